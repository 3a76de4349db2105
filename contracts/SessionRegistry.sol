// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title SessionRegistry
/// @notice Wallets authorize session keys once (a transaction, or an EIP-712 signature anyone may
/// submit); ops and receipts a live session key signs count as its wallet's. Wallets can revoke.
contract SessionRegistry is EIP712("Seedcraft Sessions", "1"), Nonces {
    struct Session {
        address wallet;
        uint64 expiresAt;
    }

    bytes32 public constant AUTHORIZE_TYPEHASH =
        keccak256("AuthorizeSession(address wallet,address sessionKey,uint64 expiresAt,uint256 nonce,uint256 deadline)");

    bytes32 public constant CONSENT_TYPEHASH = keccak256("SessionConsent(address wallet,uint64 expiresAt)");

    /// @notice The session key did not sign its consent to serve this wallet until this expiry.
    error NoKeyConsent(address sessionKey, address signer);
    /// @notice The session key already belongs to another wallet.
    error SessionKeyTaken(address sessionKey, address wallet);
    /// @notice Only the wallet that authorized a session key may revoke it.
    error NotSessionOwner(address sessionKey, address caller);
    /// @notice A session must end in the future.
    error ExpiryInPast(uint64 expiresAt);
    /// @notice The signed authorization is past its deadline.
    error AuthorizationExpired(uint256 deadline);
    /// @notice The authorization was not signed by the wallet it names.
    error InvalidAuthorization(address wallet, address signer);
    /// @notice The zero address cannot be a session key.
    error ZeroSessionKey();

    /// @notice `wallet` authorized `sessionKey` until `expiresAt` (unix seconds).
    event SessionAuthorized(address indexed wallet, address indexed sessionKey, uint64 expiresAt);
    /// @notice `wallet` revoked `sessionKey`.
    event SessionRevoked(address indexed wallet, address indexed sessionKey);

    mapping(address sessionKey => Session) private _sessions;

    /// @notice Authorizes (or extends) a session key for the sender. `keyConsent` is the session key's own
    /// EIP-712 signature of `SessionConsent(wallet, expiresAt)`: without it, anyone could claim another
    /// player's address as its session key and take credit for what that address sends. Any ETH sent
    /// goes on to the session key, for the gas of its anchors: one wallet transaction sets a player up.
    function authorize(address sessionKey, uint64 expiresAt, bytes calldata keyConsent) external payable {
        _checkConsent(msg.sender, sessionKey, expiresAt, keyConsent);
        _authorize(msg.sender, sessionKey, expiresAt);
        if (msg.value > 0) Address.sendValue(payable(sessionKey), msg.value);
    }

    /// @notice Authorizes a session key with the wallet's EIP-712 signature: anyone may submit it.
    function authorizeWithSig(
        address wallet,
        address sessionKey,
        uint64 expiresAt,
        uint256 deadline,
        bytes calldata signature,
        bytes calldata keyConsent
    ) external {
        if (block.timestamp > deadline) revert AuthorizationExpired(deadline);
        bytes32 digest = _hashTypedDataV4(
            keccak256(abi.encode(AUTHORIZE_TYPEHASH, wallet, sessionKey, expiresAt, _useNonce(wallet), deadline))
        );
        address signer = ECDSA.recover(digest, signature);
        if (signer != wallet) revert InvalidAuthorization(wallet, signer);
        _checkConsent(wallet, sessionKey, expiresAt, keyConsent);
        _authorize(wallet, sessionKey, expiresAt);
    }

    /// @notice Revokes a session key of the sender's.
    function revoke(address sessionKey) external {
        Session storage session = _sessions[sessionKey];
        if (session.wallet != msg.sender) revert NotSessionOwner(sessionKey, msg.sender);
        delete _sessions[sessionKey];
        emit SessionRevoked(msg.sender, sessionKey);
    }

    /// @notice The wallet a session key signs for, or zero if it has none or it has expired.
    function walletOf(address sessionKey) public view returns (address) {
        Session storage session = _sessions[sessionKey];
        return block.timestamp < session.expiresAt ? session.wallet : address(0);
    }

    /// @notice The session a key holds (expired ones included).
    function sessionOf(address sessionKey) external view returns (address wallet, uint64 expiresAt) {
        Session storage session = _sessions[sessionKey];
        return (session.wallet, session.expiresAt);
    }

    /// @notice Whether `signer` may sign for `wallet` now: the wallet itself or one of its live session keys.
    function canSignFor(address signer, address wallet) external view returns (bool) {
        return signer == wallet || (wallet != address(0) && walletOf(signer) == wallet);
    }

    function _checkConsent(address wallet, address sessionKey, uint64 expiresAt, bytes calldata keyConsent)
        internal
        view
    {
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(CONSENT_TYPEHASH, wallet, expiresAt)));
        (address signer,,) = ECDSA.tryRecover(digest, keyConsent);
        if (signer != sessionKey) revert NoKeyConsent(sessionKey, signer);
    }

    function _authorize(address wallet, address sessionKey, uint64 expiresAt) internal {
        if (sessionKey == address(0)) revert ZeroSessionKey();
        if (expiresAt <= block.timestamp) revert ExpiryInPast(expiresAt);
        Session storage session = _sessions[sessionKey];
        if (session.wallet != address(0) && session.wallet != wallet) revert SessionKeyTaken(sessionKey, session.wallet);
        session.wallet = wallet;
        session.expiresAt = expiresAt;
        emit SessionAuthorized(wallet, sessionKey, expiresAt);
    }
}
