"""Analytics on top of the views: the HTML report (report.py, its SQL in queries.py, its charts
in charts.py)."""
