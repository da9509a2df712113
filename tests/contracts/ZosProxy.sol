// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title ZosProxy
/// @notice Test double of PAXG's proxy, ZeppelinOS's AdminUpgradeabilityProxy: the implementation
/// address lives in the slot keccak256("org.zeppelinos.proxy.implementation"); the constructor
/// sets it without an event, and upgradeTo emits Upgraded(address) with the address in data (not
/// indexed). Unlike the real proxy, the admin may also call through to the implementation (the
/// tests' deployer does both).
contract ZosProxy {
    event Upgraded(address implementation);

    bytes32 private constant IMPLEMENTATION_SLOT = keccak256("org.zeppelinos.proxy.implementation");
    bytes32 private constant ADMIN_SLOT = keccak256("org.zeppelinos.proxy.admin");

    constructor(address implementation) {
        _store(IMPLEMENTATION_SLOT, implementation);
        _store(ADMIN_SLOT, msg.sender);
    }

    function upgradeTo(address newImplementation) external {
        require(msg.sender == _load(ADMIN_SLOT), "only the admin upgrades");
        require(newImplementation.code.length > 0, "implementation has no code");
        _store(IMPLEMENTATION_SLOT, newImplementation);
        emit Upgraded(newImplementation);
    }

    fallback() external {
        address implementation = _load(IMPLEMENTATION_SLOT);
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), implementation, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            switch ok
            case 0 { revert(0, returndatasize()) }
            default { return(0, returndatasize()) }
        }
    }

    function _store(bytes32 slot, address value) private {
        assembly {
            sstore(slot, value)
        }
    }

    function _load(bytes32 slot) private view returns (address value) {
        assembly {
            value := sload(slot)
        }
    }
}
