"""Password digests imported in the formats Clerk accepts (its ``password_hasher`` names).

:func:`validate_digest` checks a digest's form without hashing anything (an import
runs thousands of users a second); :func:`verify_digest` checks a password against
one. Both read the digest with the same parser, which refuses work factors past
sane maxima: an imported digest can make one sign-in slow, never the server.

Formats follow Clerk's documentation. Where the system people export from writes
its digests otherwise (passlib, Django, werkzeug), its real output is accepted too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import bcrypt
from argon2 import PasswordHasher as Argon2Hasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..errors import ClerkError

HASHERS: frozenset[str] = frozenset({
    "bcrypt", "bcrypt_sha256_django", "argon2i", "argon2id",
    "pbkdf2_sha1", "pbkdf2_sha256", "pbkdf2_sha256_django", "pbkdf2_sha512",
    "scrypt_firebase", "scrypt_werkzeug", "phpass",
    "sha256", "sha256_salted", "md5", "md5_salted", "sha512_symfony",
})

MAX_DIGEST_LENGTH = 512  # the width of clerk_users.password_digest
MAX_PASSWORD_BYTES = 4096  # as Symfony: nobody's password is longer; hashing one is work
# Work factors past these are refused: at these, one verify already takes seconds.
# The work factors refused at import: each bound keeps one verify near or under the
# failure floor's cap (password_timing, 1 s), since every failed sign-in is padded to
# the slowest imported digest, and a locked account is still hashed. Real exports sit
# well below: bcrypt 10-12, Django's PBKDF2 1-1.5M, werkzeug's scrypt n*r*p = 2**18,
# Django's argon2 100 MiB x 2 passes.
BCRYPT_MAX_COST = 13  # ~0.5 s here
PBKDF2_MAX_ROUNDS = 3_000_000  # iterations x output blocks; ~0.85 s for SHA-256
SCRYPT_MAX_WORK = 2**19  # n * r * p; its memory, 128 * n * r bytes, is then <= 64 MiB
ARGON2_MAX_MEMORY = 128 * 1024  # KiB
ARGON2_MAX_WORK = 512 * 1024  # KiB x passes
ARGON2_MAX_LANES = 64  # argon2 runs a thread a lane
PHPASS_MAX_COST = 20  # 2**20 MD5s: WordPress writes 8, passlib 19
SYMFONY_MAX_ITERATIONS = 1_000_000


class _Digest(NamedTuple):
    """A digest read: its work (comparable between digests of one hasher) and its check."""

    work: int
    check: Callable[[bytes], bool]


def validate_digest(hasher: str, digest: str) -> None:
    """Raise :class:`ClerkError` unless ``digest`` is a well-formed ``hasher`` digest."""
    if hasher not in HASHERS:
        raise ClerkError("form_param_format_invalid", field="password_hasher")
    if _parse(hasher, digest) is None:
        raise ClerkError("form_param_format_invalid", field="password_digest")


def verify_digest(hasher: str, digest: str, password: str) -> bool:
    """Whether ``password`` matches; False, never an error, for anything malformed.

    Every comparison is constant-time (``hmac.compare_digest``; for argon2,
    libargon2's own).
    """
    try:
        parsed = _parse(hasher, digest)
        secret = password.encode()
        if parsed is None or len(secret) > MAX_PASSWORD_BYTES:
            return False
        return parsed.check(secret)
    except Exception:  # noqa: BLE001 - whatever odd input makes a library raise is a mismatch
        return False


def work_factor(hasher: str, digest: str) -> int:
    """How much work verifying ``digest`` takes, comparable between digests of one
    hasher only (bcrypt: 2**cost; PBKDF2: iterations; ...); 0 when malformed."""
    parsed = _parse(hasher, digest)
    return parsed.work if parsed else 0


def _parse(hasher: str, digest: str) -> _Digest | None:
    parser = _PARSERS.get(hasher)
    if (parser is None or not isinstance(digest, str) or not 0 < len(digest) <= MAX_DIGEST_LENGTH
            or not digest.isprintable()):
        return None
    return parser(digest)


# --- Encodings ------------------------------------------------------------------------
_NUMBER = re.compile(r"[0-9]{1,10}")  # ASCII digits only: int() would take "١٠"
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
_B64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_AB64 = re.compile(r"[A-Za-z0-9./]+")


def _number(text: str, low: int, high: int) -> int | None:
    if not _NUMBER.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def _hex(text: str) -> bytes | None:
    return bytes.fromhex(text) if _HEX.fullmatch(text) else None


def _b64(text: str, *, adapted: bool = False) -> bytes | None:
    """Standard base64 with or without its padding; or (``adapted``) passlib's
    adapted base64: "." for "+", never padded."""
    if not (_AB64 if adapted else _B64).fullmatch(text):
        return None
    bare = text.rstrip("=")
    if len(bare) % 4 == 1 or (bare != text and len(text) % 4):
        return None
    try:
        return base64.b64decode(bare + "=" * (-len(bare) % 4),
                                altchars=b"./" if adapted else None, validate=True)
    except binascii.Error:
        return None


# --- bcrypt ---------------------------------------------------------------------------
# 22 salt characters (the last one carries 2 bits: ".Oeu"), 31 of checksum (the last 4).
_BCRYPT = re.compile(
    r"\$2[aby]\$([0-9]{2})\$[./A-Za-z0-9]{21}[.Oeu][./A-Za-z0-9]{30}[.CGKOSWaeimquy26]"
)


def _bcrypt(digest: str) -> _Digest | None:
    match = _BCRYPT.fullmatch(digest)
    cost = _number(match[1], 4, BCRYPT_MAX_COST) if match else None
    if cost is None:
        return None
    return _Digest(2**cost, partial(_check_bcrypt, digest.encode()))


def _check_bcrypt(stored: bytes, secret: bytes) -> bool:
    # Classic bcrypt reads only the first 72 bytes of a password, and so did every
    # system these digests come from (OpenBSD, PHP, Ruby, Node, bcrypt < 5 here, and
    # Go's CompareHashAndPassword, which Clerk runs: only Go's GenerateFromPassword
    # refuses more). Someone whose longer password was hashed there types all of it
    # and must still get in: compare those same 72 bytes. (bcrypt 5 raises instead.)
    return hmac.compare_digest(bcrypt.hashpw(secret[:72], stored), stored)


def _bcrypt_sha256_django(digest: str) -> _Digest | None:
    # Django's BCryptSHA256PasswordHasher: "bcrypt_sha256$" + bcrypt of hex(sha256(pw)).
    prefix, _, inner = digest.partition("$")
    parsed = _bcrypt(inner) if prefix == "bcrypt_sha256" else None
    if parsed is None:
        return None
    return _Digest(parsed.work, partial(_check_bcrypt_sha256, inner.encode()))


def _check_bcrypt_sha256(stored: bytes, secret: bytes) -> bool:
    return _check_bcrypt(stored, hashlib.sha256(secret).hexdigest().encode())


# --- argon2 ---------------------------------------------------------------------------
_ARGON2 = re.compile(
    r"\$(argon2id|argon2i)\$(?:v=(?:16|19)\$)?m=([0-9]{1,7}),t=([0-9]{1,4}),p=([0-9]{1,3})"
    r"\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{6,}"  # salt >= 8 bytes, tag >= 4
)
_ARGON2_VERIFIER = Argon2Hasher()  # verify reads every parameter from the digest


def _argon2(kind: str) -> Callable[[str], _Digest | None]:
    def parse(digest: str) -> _Digest | None:
        # Django writes "argon2" before the PHC string: "argon2$argon2id$v=19$...".
        phc = digest[len("argon2"):] if digest.startswith("argon2$") else digest
        match = _ARGON2.fullmatch(phc)
        if not match or match[1] != kind:
            return None
        memory, passes, lanes = int(match[2]), int(match[3]), int(match[4])
        if not (1 <= lanes <= ARGON2_MAX_LANES and passes >= 1
                and 8 * lanes <= memory <= ARGON2_MAX_MEMORY
                and passes * memory <= ARGON2_MAX_WORK):
            return None
        return _Digest(passes * memory, partial(_check_argon2, phc))

    return parse


def _check_argon2(phc: str, secret: bytes) -> bool:
    try:
        return _ARGON2_VERIFIER.verify(phc, secret)  # libargon2 compares in constant time
    except (VerificationError, InvalidHashError):
        return False


# --- PBKDF2 ---------------------------------------------------------------------------
_DIGEST_SIZES = {"sha1": 20, "sha256": 32, "sha512": 64}


def _pbkdf2(name: str, salt: bytes | None, rounds_text: str,
            expected: bytes | None) -> _Digest | None:
    """The bounds every PBKDF2 form shares; the key length is the stored hash's."""
    rounds = _number(rounds_text, 1, PBKDF2_MAX_ROUNDS)
    if rounds is None or not salt or expected is None or not 16 <= len(expected) <= 64:
        return None
    work = rounds * -(-len(expected) // _DIGEST_SIZES[name])  # one run per output block
    if work > PBKDF2_MAX_ROUNDS:
        return None
    return _Digest(work, partial(_check_pbkdf2, name, salt, rounds, expected))


def _check_pbkdf2(name: str, salt: bytes, rounds: int, expected: bytes, secret: bytes) -> bool:
    derived = hashlib.pbkdf2_hmac(name, secret, salt, rounds, len(expected))
    return hmac.compare_digest(derived, expected)


def _passlib_pbkdf2(name: str, digest: str) -> _Digest | None:
    # passlib's "$pbkdf2-sha256$<rounds>$<ab64 salt>$<ab64 hash>".
    parts = digest.split("$")
    if len(parts) != 5 or parts[0] or parts[1] != f"pbkdf2-{name}":
        return None
    return _pbkdf2(name, _b64(parts[3], adapted=True), parts[2], _b64(parts[4], adapted=True))


def _pbkdf2_sha1(digest: str) -> _Digest | None:
    parts = digest.split("$")
    if parts[0] != "pbkdf2_sha1" or len(parts) not in (4, 5):
        return None
    rounds, salt, encoded = parts[1:4]
    expected = _hex(encoded)
    if expected is not None:
        # Clerk's form: hex hash; the salt hex-decoded when it is valid hex, else as
        # written; an optional key length, which must then be the hash's.
        if len(parts) == 5 and _number(parts[4], 1, 64) != len(expected):
            return None
        return _pbkdf2("sha1", _hex(salt) or salt.encode(), rounds, expected)
    if len(parts) == 5:
        return None
    # Django's PBKDF2SHA1PasswordHasher: salt as written, base64 hash. Its 20 bytes are
    # 28 characters ending in "=": never valid hex, so the two forms cannot be confused.
    return _pbkdf2("sha1", salt.encode(), rounds, _b64(encoded))


def _pbkdf2_sha256(digest: str) -> _Digest | None:
    if digest.startswith("$pbkdf2-sha256$"):
        return _passlib_pbkdf2("sha256", digest)
    parts = digest.split("$")
    method = parts[0].split(":")
    if len(parts) == 3 and len(method) == 3 and method[:2] == ["pbkdf2", "sha256"]:
        # werkzeug's "pbkdf2:sha256:<iterations>$<salt>$<hex hash>".
        return _pbkdf2("sha256", parts[1].encode(), method[2], _hex(parts[2]))
    if len(parts) != 4 or parts[0] != "pbkdf2_sha256":
        return None
    # Clerk's form: base64 salt and hash.
    return _pbkdf2("sha256", _b64(parts[2]), parts[1], _b64(parts[3]))


def _pbkdf2_sha256_django(digest: str) -> _Digest | None:
    # Django's PBKDF2PasswordHasher: salt as written, base64 hash.
    parts = digest.split("$")
    if len(parts) != 4 or parts[0] != "pbkdf2_sha256":
        return None
    return _pbkdf2("sha256", parts[2].encode(), parts[1], _b64(parts[3]))


def _pbkdf2_sha512(digest: str) -> _Digest | None:
    if digest.startswith("$pbkdf2-sha512$"):
        return _passlib_pbkdf2("sha512", digest)
    # Clerk's form: salt as written, hex hash.
    parts = digest.split("$")
    if len(parts) != 4 or parts[0] != "pbkdf2_sha512":
        return None
    return _pbkdf2("sha512", parts[2].encode(), parts[1], _hex(parts[3]))


# --- scrypt ---------------------------------------------------------------------------
def _scrypt_work(n: int, r: int, p: int) -> int | None:
    if n < 2 or n & (n - 1) or r < 1 or p < 1 or n * r * p > SCRYPT_MAX_WORK:
        return None
    return n * r * p


def _scrypt(secret: bytes, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    # OpenSSL needs 128 * r * (n + p + 2) bytes; its default allowance is 32 MiB.
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, dklen=length,
                          maxmem=128 * r * (n + p + 2) + 65536)


def _scrypt_werkzeug(digest: str) -> _Digest | None:
    # werkzeug's "scrypt:<n>:<r>:<p>$<salt>$<hex hash>" (or bare "scrypt": its defaults
    # 2**15, 8, 1). Clerk documents it as "$<args>$<salt>$<hash>" with a base64 hash:
    # a leading "$" and a base64 hash are taken too.
    parts = digest.removeprefix("$").split("$")
    if len(parts) != 3:
        return None
    method, salt, encoded = parts
    args = method.split(":")
    if args[0] != "scrypt" or len(args) not in (1, 4):
        return None
    n, r, p = [2**15, 8, 1] if len(args) == 1 else [_number(a, 1, 2**30) or 0 for a in args[1:]]
    work = _scrypt_work(n, r, p)
    expected = _hex(encoded) or _b64(encoded)
    if work is None or not salt or expected is None or not 16 <= len(expected) <= 64:
        return None
    return _Digest(work, partial(_check_scrypt, salt.encode(), n, r, p, expected))


def _check_scrypt(salt: bytes, n: int, r: int, p: int, expected: bytes, secret: bytes) -> bool:
    return hmac.compare_digest(_scrypt(secret, salt, n, r, p, len(expected)), expected)


def _scrypt_firebase(digest: str) -> _Digest | None:
    # "<hash>$<salt>$<signer key>$<salt separator>$<rounds>$<memory cost>", all base64
    # but the two numbers; the last four are the Firebase project's hash parameters.
    parts = digest.split("$")
    if len(parts) != 6:
        return None
    expected, salt, signer_key = _b64(parts[0]), _b64(parts[1]), _b64(parts[2])
    separator = _b64(parts[3]) if parts[3] else b""
    rounds, mem_cost = _number(parts[4], 1, 64) or 0, _number(parts[5], 1, 30) or 0
    n = 2**mem_cost if mem_cost else 0
    work = _scrypt_work(n, rounds, 1)
    if (work is None or not salt or separator is None or not signer_key
            or expected is None or len(expected) != len(signer_key)):
        return None
    return _Digest(work, partial(_check_firebase, salt + separator, n, rounds, signer_key,
                                   expected))


def _check_firebase(salt: bytes, n: int, rounds: int, signer_key: bytes, expected: bytes,
                    secret: bytes) -> bool:
    # Firebase's modified scrypt: the scrypt key encrypts the project's signer key
    # with AES-256-CTR from a zero IV; the stored hash is that ciphertext.
    key = _scrypt(secret, salt, n, rounds, 1, 32)
    encryptor = Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor()
    return hmac.compare_digest(encryptor.update(signer_key) + encryptor.finalize(), expected)


# --- phpass ---------------------------------------------------------------------------
_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# "$P$" (phpBB: "$H$"), the cost, 8 salt characters, 22 of checksum (the last: 2 bits).
_PHPASS = re.compile(r"\$[PH]\$([./0-9A-Za-z])([./0-9A-Za-z]{8})[./0-9A-Za-z]{21}[./01]")


def _phpass(digest: str) -> _Digest | None:
    match = _PHPASS.fullmatch(digest)
    if not match:
        return None
    cost = _ITOA64.index(match[1])
    if not 7 <= cost <= PHPASS_MAX_COST:
        return None
    return _Digest(2**cost, partial(_check_phpass, digest[12:].encode(), match[2].encode(),
                                    2**cost))


def _check_phpass(stored: bytes, salt: bytes, count: int, secret: bytes) -> bool:
    # Portable phpass: MD5 of salt and password, then `count` times MD5 of the
    # previous digest and the password.
    checksum = hashlib.md5(salt + secret).digest()  # noqa: S324 - the imported format
    for _ in range(count):
        checksum = hashlib.md5(checksum + secret).digest()  # noqa: S324
    return hmac.compare_digest(_phpass_encode(checksum), stored)


def _phpass_encode(data: bytes) -> bytes:
    """phpass's encode64: groups of three bytes, little-endian, six bits a character
    (a short last group gives one character more than it has bytes)."""
    out: list[str] = []
    for start in range(0, len(data), 3):
        group = data[start:start + 3]
        value = int.from_bytes(group, "little")
        out.extend(_ITOA64[(value >> shift) & 0x3F] for shift in range(0, 6 * len(group) + 1, 6))
    return "".join(out).encode()


# --- Plain digests (insecure; replaced at the first sign-in like every other) ---------
def _plain(name: str, size: int) -> Callable[[str], _Digest | None]:
    def parse(digest: str) -> _Digest | None:
        expected = _hex(digest)
        if expected is None or len(expected) != size:
            return None
        return _Digest(1, partial(_check_plain, name, b"", expected))

    return parse


def _salted(name: str, size: int) -> Callable[[str], _Digest | None]:
    # Clerk documents md5_salted and sha256_salted as "salt$hash" with a hex hash, but
    # not whether the salt goes before the password or after it. We take
    # hash(salt + password), the usual reading of that order; digests made the other
    # way round will not verify (their users reset their password).
    def parse(digest: str) -> _Digest | None:
        salt, _, encoded = digest.rpartition("$")
        expected = _hex(encoded)
        if not salt or expected is None or len(expected) != size:
            return None
        return _Digest(1, partial(_check_plain, name, salt.encode(), expected))

    return parse


def _check_plain(name: str, salt: bytes, expected: bytes, secret: bytes) -> bool:
    return hmac.compare_digest(hashlib.new(name, salt + secret).digest(), expected)  # noqa: S324


def _sha512_symfony(digest: str) -> _Digest | None:
    # "sha512_symfony$<iterations>$<salt>$<base64 hash>", from Symfony's
    # MessageDigestPasswordEncoder("sha512", encodeHashAsBase64=true, iterations).
    prefix, _, rest = digest.partition("$")
    iterations_text, _, rest = rest.partition("$")
    salt, separator, encoded = rest.rpartition("$")
    iterations = _number(iterations_text, 1, SYMFONY_MAX_ITERATIONS)
    expected = _b64(encoded)
    if (prefix != "sha512_symfony" or not separator or iterations is None or expected is None
            or len(expected) != 64 or "{" in salt or "}" in salt):  # Symfony refuses those
        return None
    return _Digest(iterations, partial(_check_symfony, salt.encode(), iterations, expected))


def _check_symfony(salt: bytes, iterations: int, expected: bytes, secret: bytes) -> bool:
    # PHP's empty($salt) is also true of "0": such a salt was never merged.
    salted = secret + b"{" + salt + b"}" if salt not in (b"", b"0") else secret
    digest = hashlib.sha512(salted).digest()
    for _ in range(iterations - 1):
        digest = hashlib.sha512(digest + salted).digest()
    return hmac.compare_digest(digest, expected)


_PARSERS: dict[str, Callable[[str], _Digest | None]] = {
    "bcrypt": _bcrypt,
    "bcrypt_sha256_django": _bcrypt_sha256_django,
    "argon2i": _argon2("argon2i"),
    "argon2id": _argon2("argon2id"),
    "pbkdf2_sha1": _pbkdf2_sha1,
    "pbkdf2_sha256": _pbkdf2_sha256,
    "pbkdf2_sha256_django": _pbkdf2_sha256_django,
    "pbkdf2_sha512": _pbkdf2_sha512,
    "scrypt_firebase": _scrypt_firebase,
    "scrypt_werkzeug": _scrypt_werkzeug,
    "phpass": _phpass,
    "sha256": _plain("sha256", 32),
    "sha256_salted": _salted("sha256", 32),
    "md5": _plain("md5", 16),
    "md5_salted": _salted("md5", 16),
    "sha512_symfony": _sha512_symfony,
}
