"""Imported password digests in Clerk's formats, and the failure floor (SECURITY.md 10).

Digests come from the real reference implementation wherever a Python one exists
(bcrypt, Django, argon2-cffi, libpass, werkzeug), made here in the test. Three have
none: Clerk's own forms of PBKDF2 and the plain/salted MD5 and SHA-256 (made with
hashlib from Clerk's documentation), Firebase's scrypt (its published test vector)
and Symfony's sha512 (the PHP loop re-written literally, plus a published digest).
"""

from __future__ import annotations

import base64
import hashlib
import re

import argon2
import bcrypt
import pytest
from django.contrib.auth.hashers import (
    Argon2PasswordHasher,
    BCryptSHA256PasswordHasher,
    PBKDF2PasswordHasher,
    PBKDF2SHA1PasswordHasher,
    make_password,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from passlib.hash import pbkdf2_sha256, pbkdf2_sha512, phpass
from werkzeug.security import generate_password_hash

from conftest import last_code
from flask_clerk.core import password_digests, password_timing
from flask_clerk.core.instance import RequestInfo
from flask_clerk.core.models import User
from flask_clerk.core.password_digests import (
    HASHERS,
    validate_digest,
    verify_digest,
    work_factor,
)
from flask_clerk.core.password_timing import FailureFloor, imported_digest_samples
from flask_clerk.core.passwords import PasswordHasher
from flask_clerk.core.sign_in import (
    attempt_password,
    reset_password,
    start_password_reset,
    start_sign_in,
    verify_reset_code,
)
from flask_clerk.core.users import change_password, create_user
from flask_clerk.errors import ClerkError

PASSWORD = "quiet harbor lantern ✓ 42"
WRONG = "quiet harbor lantern ✓ 43"


# --- Django's hashers, at their lowest work so the tests stay quick ----------------------
class DjangoPBKDF2SHA1(PBKDF2SHA1PasswordHasher):
    iterations = 1000


class DjangoPBKDF2(PBKDF2PasswordHasher):
    iterations = 1000


class DjangoBCryptSHA256(BCryptSHA256PasswordHasher):
    rounds = 4


class DjangoArgon2(Argon2PasswordHasher):
    time_cost, memory_cost, parallelism = 1, 1024, 1


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def clerk_pbkdf2_sha1(password: str, salt: str, iterations: int = 1000, keylen: int = 32,
                      *, with_keylen: bool = False) -> str:
    """Clerk's pbkdf2_sha1 (no reference implementation): hex hash, salt hex-decoded
    when it is valid hex, key length 32 unless given."""
    salt_bytes = bytes.fromhex(salt) if re.fullmatch(r"(?:[0-9a-f]{2})+", salt) else salt.encode()
    key = hashlib.pbkdf2_hmac("sha1", password.encode(), salt_bytes, iterations, keylen)
    return f"pbkdf2_sha1${iterations}${salt}${key.hex()}" + (f"${keylen}" if with_keylen else "")


def clerk_pbkdf2_sha256(password: str) -> str:
    """Clerk's pbkdf2_sha256: base64 salt and hash."""
    salt = b"\x01salt bytes\xff\x00"
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 1000)
    return f"pbkdf2_sha256$1000${b64(salt)}${b64(key)}"


def clerk_pbkdf2_sha512(password: str) -> str:
    """Clerk's pbkdf2_sha512: salt as written, hex hash."""
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), b"NaCl-raw", 1000)
    return f"pbkdf2_sha512$1000$NaCl-raw${key.hex()}"


def symfony_sha512(password: str, salt: str, iterations: int) -> str:
    """Symfony's MessageDigestPasswordEncoder::encodePassword, line by line (PHP has no
    Python port): $salted = mergePasswordAndSalt(); $digest = hash('sha512', $salted,
    true); for ($i = 1; $i < iterations; ++$i) $digest = hash('sha512', $digest.$salted,
    true); return base64_encode($digest)."""
    salted = (password + "{" + salt + "}").encode() if salt else password.encode()
    digest = hashlib.sha512(salted).digest()
    i = 1
    while i < iterations:
        digest = hashlib.sha512(digest + salted).digest()
        i += 1
    return f"sha512_symfony${iterations}${salt}${b64(digest)}"


# Firebase's published test vector (firebase/scrypt README; the same in the
# firebase-scrypt crate's docs): no Python implementation exists to make one.
FIREBASE = {
    "hash": ("lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JA"
             "dRuid5lQ=="),
    "salt": "42xEC+ixf3L2lw==",
    "signer_key": ("jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDz"
                   "ZvpjeJ9WmXA=="),
    "salt_separator": "Bw==",
    "rounds": 8,
    "mem_cost": 14,
}
FIREBASE_DIGEST = "$".join(str(FIREBASE[k]) for k in (
    "hash", "salt", "signer_key", "salt_separator", "rounds", "mem_cost"))

# A digest an FOSUserBundle application stored with Symfony's default sha512 encoder
# (5000 iterations, base64), published with its password and salt in a public PHP
# debugging script; our literal re-implementation gives the same.
FOS_DIGEST = ("sha512_symfony$5000$ba247c3935de250e1be57a1a8b125293$DHJu3aO5tox49yAcPrXwjJRZQD4w"
              "GXI/zCncQ9PkYiTiHPI4OdzCCCpmhceajZcjRCiJQLcAfNXkhnWjxwURPA==")


def reference_digests() -> list[tuple[str, str, str, str]]:
    """(case, hasher, digest, password) for every hasher, made by its reference."""
    pw = PASSWORD.encode()
    bcrypt_2b = bcrypt.hashpw(pw, bcrypt.gensalt(4)).decode()
    return [
        ("bcrypt-2b", "bcrypt", bcrypt_2b, PASSWORD),
        ("bcrypt-2a", "bcrypt", bcrypt.hashpw(pw, bcrypt.gensalt(4, prefix=b"2a")).decode(),
         PASSWORD),
        # PHP's password_hash writes "$2y$", the same algorithm as "$2b$" by another name.
        ("bcrypt-2y", "bcrypt", "$2y$" + bcrypt_2b[4:], PASSWORD),
        ("django-bcrypt-sha256", "bcrypt_sha256_django",
         make_password(PASSWORD, hasher=DjangoBCryptSHA256()), PASSWORD),
        ("argon2i", "argon2i", argon2.PasswordHasher(
            type=argon2.Type.I, time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD),
         PASSWORD),
        ("argon2id", "argon2id", argon2.PasswordHasher(
            type=argon2.Type.ID, time_cost=1, memory_cost=1024, parallelism=2).hash(PASSWORD),
         PASSWORD),
        ("django-argon2", "argon2id", make_password(PASSWORD, hasher=DjangoArgon2()), PASSWORD),
        ("django-pbkdf2-sha1", "pbkdf2_sha1", make_password(PASSWORD, hasher=DjangoPBKDF2SHA1()),
         PASSWORD),
        ("clerk-pbkdf2-sha1-hex-salt", "pbkdf2_sha1", clerk_pbkdf2_sha1(PASSWORD, "a0b1c2d3e4f5"),
         PASSWORD),
        ("clerk-pbkdf2-sha1-raw-salt", "pbkdf2_sha1", clerk_pbkdf2_sha1(PASSWORD, "NaCl+salt"),
         PASSWORD),
        ("clerk-pbkdf2-sha1-keylen", "pbkdf2_sha1",
         clerk_pbkdf2_sha1(PASSWORD, "NaCl", keylen=20, with_keylen=True), PASSWORD),
        ("passlib-pbkdf2-sha256", "pbkdf2_sha256", pbkdf2_sha256.using(rounds=1000).hash(PASSWORD),
         PASSWORD),
        ("clerk-pbkdf2-sha256", "pbkdf2_sha256", clerk_pbkdf2_sha256(PASSWORD), PASSWORD),
        ("werkzeug-pbkdf2-sha256", "pbkdf2_sha256",
         generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"), PASSWORD),
        ("django-pbkdf2-sha256", "pbkdf2_sha256_django",
         make_password(PASSWORD, hasher=DjangoPBKDF2()), PASSWORD),
        ("passlib-pbkdf2-sha512", "pbkdf2_sha512", pbkdf2_sha512.using(rounds=1000).hash(PASSWORD),
         PASSWORD),
        ("clerk-pbkdf2-sha512", "pbkdf2_sha512", clerk_pbkdf2_sha512(PASSWORD), PASSWORD),
        ("firebase-vector", "scrypt_firebase", FIREBASE_DIGEST, "user1password"),
        ("werkzeug-scrypt", "scrypt_werkzeug",
         generate_password_hash(PASSWORD, method="scrypt:1024:8:1"), PASSWORD),
        ("werkzeug-scrypt-default", "scrypt_werkzeug", generate_password_hash(PASSWORD), PASSWORD),
        ("werkzeug-scrypt-clerk-dollar", "scrypt_werkzeug",
         "$" + generate_password_hash(PASSWORD, method="scrypt:1024:8:1"), PASSWORD),
        ("passlib-phpass-P", "phpass", phpass.using(rounds=7).hash(PASSWORD), PASSWORD),
        ("passlib-phpass-H", "phpass", phpass.using(rounds=9, ident="H").hash(PASSWORD), PASSWORD),
        ("sha256", "sha256", hashlib.sha256(pw).hexdigest(), PASSWORD),
        ("sha256-salted", "sha256_salted",
         "pepper$" + hashlib.sha256(b"pepper" + pw).hexdigest(), PASSWORD),
        ("md5", "md5", hashlib.md5(pw).hexdigest(), PASSWORD),
        ("md5-upper", "md5", hashlib.md5(pw).hexdigest().upper(), PASSWORD),
        ("md5-salted", "md5_salted", "s$lt$" + hashlib.md5(b"s$lt" + pw).hexdigest(), PASSWORD),
        ("symfony-sha512", "sha512_symfony", symfony_sha512(PASSWORD, "x7d8s9", 5000), PASSWORD),
        ("symfony-sha512-unsalted", "sha512_symfony", symfony_sha512(PASSWORD, "", 3), PASSWORD),
        ("symfony-fos-published", "sha512_symfony", FOS_DIGEST, "Bierhefoj5"),
    ]


REFERENCE = reference_digests()


def test_every_hasher_has_a_reference_digest():
    assert {hasher for _, hasher, _, _ in REFERENCE} == HASHERS
    assert set(password_digests._PARSERS) == HASHERS


@pytest.mark.parametrize("case, hasher, digest, password", REFERENCE,
                         ids=[case for case, *_ in REFERENCE])
def test_reference_digests_verify(case, hasher, digest, password):
    validate_digest(hasher, digest)
    assert work_factor(hasher, digest) > 0
    assert verify_digest(hasher, digest, password) is True
    assert verify_digest(hasher, digest, password + "x") is False
    assert verify_digest(hasher, digest, "") is False


def test_the_symfony_reimplementation_gives_the_published_digest():
    assert symfony_sha512("Bierhefoj5", "ba247c3935de250e1be57a1a8b125293", 5000) == FOS_DIGEST


def test_firebase_vector_wrong_password_and_parameters():
    assert not verify_digest("scrypt_firebase", FIREBASE_DIGEST, "user2password")
    other_rounds = FIREBASE_DIGEST.replace("$8$14", "$7$14")
    validate_digest("scrypt_firebase", other_rounds)
    assert not verify_digest("scrypt_firebase", other_rounds, "user1password")


_BCRYPT = bcrypt.hashpw(b"x", bcrypt.gensalt(4)).decode()
_ARGON2I = next(d for _, h, d, _ in REFERENCE if h == "argon2i")
_ARGON2ID = next(d for c, _, d, _ in REFERENCE if c == "argon2id")
_HEX64 = "ab" * 32
_B64_32 = b64(bytes(32))
_B64_64 = b64(bytes(64))
_WERKZEUG_HEX = "cd" * 64

MALFORMED = [
    # every hasher: empty, longer than the column, control characters
    *[(hasher, "") for hasher in sorted(HASHERS)],
    ("md5", "a" * 513),
    ("md5", "0" * 31 + "0\n"),
    ("md5_salted", "salt\n$" + "0" * 32),
    ("bcrypt", "$2x$" + _BCRYPT[4:]),
    ("bcrypt", _BCRYPT[:4] + "03" + _BCRYPT[6:]),
    ("bcrypt", _BCRYPT[:4] + "17" + _BCRYPT[6:]),
    ("bcrypt", _BCRYPT[:4] + "31" + _BCRYPT[6:]),
    ("bcrypt", _BCRYPT[:4] + "4$" + _BCRYPT[7:]),
    ("bcrypt", _BCRYPT[:-1]),
    ("bcrypt", _BCRYPT + "a"),
    ("bcrypt", _BCRYPT[:28] + "P" + _BCRYPT[29:]),  # salt's last character: 2 bits only
    ("bcrypt", _BCRYPT[:-1] + "!"),
    ("bcrypt", _BCRYPT + "\n"),
    ("bcrypt", "bcrypt_sha256$" + _BCRYPT),
    ("bcrypt_sha256_django", _BCRYPT),
    ("bcrypt_sha256_django", "bcrypt$" + _BCRYPT),
    ("bcrypt_sha256_django", "bcrypt_sha256$$2b$99" + _BCRYPT[6:]),
    ("argon2i", _ARGON2ID),
    ("argon2id", _ARGON2I),
    ("argon2id", _ARGON2ID.replace("argon2id", "argon2d")),
    ("argon2id", "argon2$" + _ARGON2I),
    ("argon2id", _ARGON2ID.replace("m=1024", "m=1048576")),
    ("argon2id", _ARGON2ID.replace("m=1024,t=1", "m=262144,t=8")),
    ("argon2id", _ARGON2ID.replace("p=2", "p=0")),
    ("argon2id", _ARGON2ID.replace("m=1024", "m=8")),  # fewer than 8 KiB a lane
    ("argon2id", _ARGON2ID.replace("t=1", "t=x")),
    ("argon2id", _ARGON2ID.rsplit("$", 1)[0]),
    ("argon2id", _ARGON2ID + "!"),
    ("pbkdf2_sha1", f"pbkdf2_sha1$abc$salt${_HEX64}"),
    ("pbkdf2_sha1", f"pbkdf2_sha1$0$salt${_HEX64}"),
    ("pbkdf2_sha1", f"pbkdf2_sha1$10000001$salt${_HEX64}"),
    ("pbkdf2_sha1", f"pbkdf2_sha1$١٠٠٠$salt${_HEX64}"),  # Arabic-Indic digits
    ("pbkdf2_sha1", f"pbkdf2_sha1$-1000$salt${_HEX64}"),
    ("pbkdf2_sha1", f"pbkdf2_sha1$1000$salt${_HEX64}$20"),  # key length is not the hash's
    ("pbkdf2_sha1", f"pbkdf2_sha1$1000$salt${b64(bytes(20))}$20"),
    ("pbkdf2_sha1", f"pbkdf2_sha1$1000$${_HEX64}"),
    ("pbkdf2_sha1", "pbkdf2_sha1$1000$salt$abcd"),  # 2 bytes
    ("pbkdf2_sha1", f"pbkdf2_sha1$1000$salt${'ab' * 65}"),
    ("pbkdf2_sha1", f"pbkdf2_sha1$5000001$salt${_HEX64}"),  # 2 blocks of SHA-1: > 10M runs
    ("pbkdf2_sha1", f"pbkdf2_sha256$1000$salt${_HEX64}"),
    ("pbkdf2_sha256", f"pbkdf2_sha256$1000$!!!!${_B64_32}"),
    ("pbkdf2_sha256", f"pbkdf2_sha256$1000$c2FsdA$={_B64_32}"),
    ("pbkdf2_sha256", f"pbkdf2_sha256$1000$c2FsdA==${b64(bytes(8))}"),
    ("pbkdf2_sha256", f"pbkdf2_sha256$10000001$c2FsdA==${_B64_32}"),
    ("pbkdf2_sha256", "$pbkdf2-sha256$1000$c2Fsd+A$" + "A" * 43),  # "+" is not adapted base64
    ("pbkdf2_sha256", "$pbkdf2-sha256$1000$c2FsdA$" + "A" * 41),  # 1 bit short of a byte
    ("pbkdf2_sha256", "$pbkdf2-sha512$1000$c2FsdA$" + "A" * 43),
    ("pbkdf2_sha256", f"pbkdf2:sha256$salt${_HEX64}"),  # werkzeug without its iterations
    ("pbkdf2_sha256", f"pbkdf2:sha1:1000$salt${_HEX64}"),
    ("pbkdf2_sha256_django", f"pbkdf2_sha256$1000$salt${_HEX64}!"),
    ("pbkdf2_sha256_django", f"pbkdf2_sha1$1000$salt${_B64_32}"),
    ("pbkdf2_sha256_django", f"pbkdf2_sha256$1000$salt${_B64_32}$32"),
    ("pbkdf2_sha512", f"pbkdf2_sha512$1000$salt${_HEX64}a"),
    ("pbkdf2_sha512", f"pbkdf2_sha512$1000$salt${_B64_64}"),
    ("pbkdf2_sha512", "$pbkdf2-sha512$x$c2FsdA$" + "A" * 86),
    ("scrypt_firebase", FIREBASE_DIGEST.rsplit("$", 1)[0]),
    ("scrypt_firebase", FIREBASE_DIGEST.replace("$8$14", "$0$14")),
    ("scrypt_firebase", FIREBASE_DIGEST.replace("$8$14", "$8$40")),
    ("scrypt_firebase", FIREBASE_DIGEST.replace("$8$14", "$64$20")),  # 8 GiB
    ("scrypt_firebase", FIREBASE_DIGEST.replace(FIREBASE["hash"], _B64_32)),
    ("scrypt_firebase", FIREBASE_DIGEST.replace(FIREBASE["salt"], "***")),
    ("scrypt_werkzeug", f"scrypt:1000:8:1$salt${_WERKZEUG_HEX}"),  # n not a power of two
    ("scrypt_werkzeug", f"scrypt:1048576:8:1$salt${_WERKZEUG_HEX}"),  # 1 GiB
    ("scrypt_werkzeug", f"scrypt:32768:8:16$salt${_WERKZEUG_HEX}"),  # werkzeug's default x 16
    ("scrypt_werkzeug", f"scrypt:1024:8$salt${_WERKZEUG_HEX}"),
    ("scrypt_werkzeug", f"scrypt:1024:0:1$salt${_WERKZEUG_HEX}"),
    ("scrypt_werkzeug", f"scrypt:1024:8:1$${_WERKZEUG_HEX}"),
    ("scrypt_werkzeug", "scrypt:1024:8:1$salt$*&^"),
    ("scrypt_werkzeug", f"pbkdf2:sha256:1000$salt${_HEX64}"),
    ("scrypt_werkzeug", f"$$scrypt:1024:8:1$salt${_WERKZEUG_HEX}"),
    ("phpass", "$Q$B" + "a" * 8 + "b" * 21 + "."),
    ("phpass", "$P$4" + "a" * 8 + "b" * 21 + "."),  # 2**6 rounds: below phpass's minimum
    ("phpass", "$P$z" + "a" * 8 + "b" * 21 + "."),  # 2**63
    ("phpass", "$P$B" + "a" * 8 + "b" * 21 + "z"),  # last character: 2 bits only
    ("phpass", "$P$B" + "a" * 8 + "b" * 21),
    ("phpass", "$P$B" + "a" * 8 + "b" * 22 + "."),
    ("sha256", _HEX64[:-1]),
    ("sha256", "g" * 64),
    ("sha256", "ab" * 16),
    ("sha256", "salt$" + _HEX64),
    ("md5", "g" * 32),
    ("md5", _HEX64),
    ("md5_salted", "$" + "ab" * 16),
    ("md5_salted", "salt$" + "ab" * 15 + "a"),
    ("md5_salted", "ab" * 16),
    ("sha256_salted", "salt$" + "ab" * 16),
    ("sha256_salted", "salt$" + "zz" * 32),
    ("sha512_symfony", f"sha512_symfony$0$salt${_B64_64}"),
    ("sha512_symfony", f"sha512_symfony$1000001$salt${_B64_64}"),
    ("sha512_symfony", f"sha512_symfony$5000$sa{{lt${_B64_64}"),
    ("sha512_symfony", f"sha512_symfony$5000$salt${_B64_32}"),
    ("sha512_symfony", f"sha512_symfony$5000${_B64_64}"),
    ("sha512_symfony", f"sha256_symfony$5000$salt${_B64_64}"),
]


@pytest.mark.parametrize("hasher, digest", MALFORMED)
def test_malformed_digests_are_refused(hasher, digest):
    with pytest.raises(ClerkError) as error:
        validate_digest(hasher, digest)
    assert (error.value.code, error.value.field) == ("form_param_format_invalid", "password_digest")
    assert verify_digest(hasher, digest, PASSWORD) is False
    assert work_factor(hasher, digest) == 0


@pytest.mark.parametrize("hasher", ["", "BCRYPT", "bcrypt_peppered", "awscognito", "md5_phpass",
                                    "ldap_ssha", "pbkdf2_sha512_hex", "argon2"])
def test_unknown_hashers_are_refused(hasher):
    with pytest.raises(ClerkError) as error:
        validate_digest(hasher, "5f4dcc3b5aa765d61d8327deb882cf99")
    assert (error.value.code, error.value.field) == ("form_param_format_invalid", "password_hasher")
    assert verify_digest(hasher, "5f4dcc3b5aa765d61d8327deb882cf99", "password") is False


def check_any_input(hasher: str, digest: str, password: str) -> None:
    try:
        validate_digest(hasher, digest)
    except ClerkError as error:
        assert (error.code, error.field) == ("form_param_format_invalid", "password_digest")
    assert verify_digest(hasher, digest, password) in (True, False)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(HASHERS)), st.text(), st.text())
def test_any_text_is_refused_or_checked_never_raised(hasher, digest, password):
    check_any_input(hasher, digest, password)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(REFERENCE), st.integers(min_value=0, max_value=600),
       st.integers(min_value=0, max_value=3), st.text(max_size=3), st.text(max_size=80))
def test_damaged_reference_digests_never_raise(case, at, cut, insert, password):
    _, hasher, digest, _ = case
    at %= len(digest) + 1
    damaged = digest[:at] + insert + digest[at + cut:]
    # Only verify what costs no more than the original: a damaged cost can be valid.
    if work_factor(hasher, damaged) <= 4 * work_factor(hasher, digest):
        check_any_input(hasher, damaged, password)
    else:
        validate_digest(hasher, damaged)


def test_odd_passwords_never_raise():
    digests = {hasher: digest for _, hasher, digest, _ in REFERENCE}
    for hasher, digest in digests.items():
        for password in ("\ud800 lone surrogate", "\x00nul", "🐎" * 300, "x" * 5000, None, 42):
            assert verify_digest(hasher, digest, password) is False  # type: ignore[arg-type]


# --- bcrypt's 72 bytes ----------------------------------------------------------------------
LONG = "a" + "é" * 40 + " and the rest of a long passphrase"  # byte 72 splits an "é"


def test_bcrypt_reads_the_first_72_bytes_like_classic_implementations():
    # What every classic bcrypt (and bcrypt < 5 here) stored for a long password: the
    # hash of its first 72 bytes. bcrypt 5 itself refuses to hash it.
    with pytest.raises(ValueError):
        bcrypt.hashpw(LONG.encode(), bcrypt.gensalt(4))
    digest = bcrypt.hashpw(LONG.encode()[:72], bcrypt.gensalt(4)).decode()
    assert verify_digest("bcrypt", digest, LONG)
    # ... so, as there, what follows byte 72 does not count; what comes before does.
    assert verify_digest("bcrypt", digest, LONG[:37] + "anything else")
    assert not verify_digest("bcrypt", digest, "b" + LONG[1:])


def test_django_bcrypt_sha256_reads_the_whole_password():
    digest = make_password(LONG, hasher=DjangoBCryptSHA256())
    assert verify_digest("bcrypt_sha256_django", digest, LONG)
    assert not verify_digest("bcrypt_sha256_django", digest, LONG[:37] + "anything else")


# --- PasswordHasher --------------------------------------------------------------------------
def test_password_hasher_dispatches_on_the_imported_hasher():
    ours = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    md5 = hashlib.md5(PASSWORD.encode()).hexdigest()
    assert ours.verify(md5, PASSWORD, "md5") and not ours.verify(md5, WRONG, "md5")
    assert not ours.verify(md5, PASSWORD), "an imported digest is not read as ours"
    assert ours.needs_rehash(md5, "md5")
    native = ours.hash(PASSWORD)
    assert ours.verify(native, PASSWORD) and not ours.needs_rehash(native)
    assert ours.needs_rehash(native, "argon2id"), "imported, whatever it is: ours replaces it"


# --- Sign-in with an imported digest ------------------------------------------------------------
def import_user(app, email, digest, hasher):
    instance = app.extensions["clerk"].instance
    instance.signing_key()  # as `flask clerk init` makes it
    with instance.store.session() as db:
        user = create_user(db, email_address=email, password_digest=digest, first_name=None,
                           last_name=None)
        user.password_hasher = hasher
        db.commit()
        return user.id


def stored(app, user_id):
    with app.extensions["clerk"].instance.store.session() as db:
        user = db.get(User, user_id)
        return user.password_digest, user.password_hasher


def attempt(app, email, password):
    instance = app.extensions["clerk"].instance
    with instance.store.session() as db:
        _, token = start_sign_in(instance, db, RequestInfo(), identifier=email)
        return attempt_password(instance, db, RequestInfo(), token, password)


def test_an_imported_user_signs_in_and_is_upgraded_to_argon2id(app, monkeypatch):
    digest = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    user_id = import_user(app, "imp@example.com", digest, "bcrypt")
    with pytest.raises(ClerkError) as error:
        attempt(app, "imp@example.com", WRONG)
    assert error.value.code == "form_password_incorrect"
    assert stored(app, user_id) == (digest, "bcrypt"), "a wrong password changes nothing"

    assert attempt(app, "imp@example.com", PASSWORD).session.user_id == user_id
    upgraded, hasher = stored(app, user_id)
    assert hasher is None and upgraded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")

    calls = []
    monkeypatch.setattr("flask_clerk.core.passwords.verify_digest",
                        lambda *args: calls.append(args) or False)
    assert attempt(app, "imp@example.com", PASSWORD).session.user_id == user_id
    assert calls == [], "the second sign-in is argon2id's"
    assert stored(app, user_id) == (upgraded, None)


@pytest.mark.parametrize("case", ["django-pbkdf2-sha256", "passlib-phpass-P", "md5-salted",
                                  "symfony-sha512", "werkzeug-scrypt"])
def test_other_imported_formats_sign_in_too(app, case):
    _, hasher, digest, password = next(r for r in REFERENCE if r[0] == case)
    user_id = import_user(app, "imp@example.com", digest, hasher)
    assert attempt(app, "imp@example.com", password).session.user_id == user_id
    assert stored(app, user_id)[1] is None


def test_changing_an_imported_password_checks_it_and_clears_the_hasher(app):
    instance = app.extensions["clerk"].instance
    digest = phpass.using(rounds=7).hash(PASSWORD)
    user_id = import_user(app, "imp@example.com", digest, "phpass")
    with instance.store.session() as db:
        user = db.get(User, user_id)
        with pytest.raises(ClerkError):
            change_password(instance, db, user, current_password=WRONG,
                            new_password="another long harbor 77",
                            confirm_password="another long harbor 77", current_session_id=None)
    with instance.store.session() as db:
        user = db.get(User, user_id)
        change_password(instance, db, user, current_password=PASSWORD,
                        new_password="another long harbor 77",
                        confirm_password="another long harbor 77", current_session_id=None)
    new_digest, hasher = stored(app, user_id)
    assert hasher is None and new_digest.startswith("$argon2id$")
    assert attempt(app, "imp@example.com", "another long harbor 77").session.user_id == user_id


def test_a_reset_password_replaces_an_imported_digest(app):
    instance = app.extensions["clerk"].instance
    user_id = import_user(app, "imp@example.com", hashlib.md5(b"forgotten").hexdigest(), "md5")
    with instance.store.session() as db:
        _, token = start_sign_in(instance, db, RequestInfo(), identifier="imp@example.com")
        start_password_reset(instance, db, RequestInfo(), token)
        verify_reset_code(instance, db, RequestInfo(), token, last_code(app, "imp@example.com"))
        reset_password(instance, db, RequestInfo(), token, "another long harbor 77",
                       "another long harbor 77")
    new_digest, hasher = stored(app, user_id)
    assert hasher is None and new_digest.startswith("$argon2id$")


# --- The failure floor --------------------------------------------------------------------------
class FakeTime:
    """A clock that only sleeping moves, and a timer that says what each verify costs."""

    def __init__(self, costs):
        self.now = 1000.0
        self.sleeps = []
        self.timed = []
        self.costs = costs

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 6))
        self.now += seconds

    def timer(self, hasher, digest):
        self.timed.append((hasher, digest))
        return self.costs(hasher, digest)


def bcrypt_cost_timer(hasher, digest):
    """argon2id 20 ms, bcrypt cost c 2**(c - 4) * 15 ms (cost 8: 240 ms), others 1 ms."""
    if hasher is None:
        return 0.02
    if hasher == "bcrypt":
        return 2 ** (int(digest[4:6]) - 4) * 0.015
    return 0.001


@pytest.fixture
def fake(app, monkeypatch):
    instance = app.extensions["clerk"].instance
    fake = FakeTime(bcrypt_cost_timer)
    floor = FailureFloor(instance.store, instance.hasher, clock=fake.clock, sleep=fake.sleep,
                         timer=fake.timer)
    monkeypatch.setattr(instance, "failure_floor", floor)
    fake.floor = floor
    return fake


def refused(app, email, password=WRONG):
    with pytest.raises(ClerkError) as error:
        attempt(app, email, password)
    return error.value.code


def bcrypt_digest(cost, password=PASSWORD):
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost)).decode()


def test_no_imported_digest_no_padding(app, fake):
    import_user(app, "native@example.com", app.extensions["clerk"].instance.hasher.hash(PASSWORD),
                None)
    assert refused(app, "nobody@example.com") == "form_password_incorrect"
    assert refused(app, "native@example.com") == "form_password_incorrect"
    assert fake.sleeps == [] and fake.timed == [], "nothing measured, nothing slept"
    assert fake.floor.floor() == 0.0


def test_failures_wait_for_the_slowest_imported_digest(app, fake):
    import_user(app, "native@example.com", app.extensions["clerk"].instance.hasher.hash(PASSWORD),
                None)
    import_user(app, "cheap@example.com", bcrypt_digest(4), "bcrypt")
    import_user(app, "dear@example.com", bcrypt_digest(8), "bcrypt")
    import_user(app, "md5@example.com", hashlib.md5(PASSWORD.encode()).hexdigest(), "md5")

    assert refused(app, "nobody@example.com") == "form_password_incorrect"
    # Measured once: our argon2id, bcrypt's most expensive digest (cost 8), md5.
    assert [hasher for hasher, _ in fake.timed] == [None, "bcrypt", "md5"]
    assert fake.timed[1][1].startswith("$2b$08$")
    assert fake.sleeps == [0.24]
    for email in ("native@example.com", "cheap@example.com", "dear@example.com",
                  "md5@example.com"):
        assert refused(app, email) == "form_password_incorrect"
    assert fake.sleeps == [0.24] * 5, "every failure waits as long; the floor is cached"
    assert len(fake.timed) == 3

    attempt(app, "cheap@example.com", PASSWORD)
    attempt(app, "native@example.com", PASSWORD)
    assert fake.sleeps == [0.24] * 5, "a success is not padded"


def test_a_locked_account_and_a_phantom_lockout_wait_too(make_app, monkeypatch):
    app = make_app(CLERK_LOCKOUT_ATTEMPTS=2)
    instance = app.extensions["clerk"].instance
    fake = FakeTime(bcrypt_cost_timer)
    monkeypatch.setattr(instance, "failure_floor", FailureFloor(
        instance.store, instance.hasher, clock=fake.clock, sleep=fake.sleep, timer=fake.timer))
    import_user(app, "dear@example.com", bcrypt_digest(8), "bcrypt")
    codes = [refused(app, email) for email in ["dear@example.com"] * 3 + ["nobody@example.com"] * 3]
    assert codes[2] == codes[5] == "user_locked"
    assert fake.sleeps == [0.24] * 6


def test_the_floor_is_capped(app, fake):
    fake.costs = lambda hasher, digest: 0.02 if hasher is None else 30.0
    import_user(app, "slow@example.com", bcrypt_digest(4), "bcrypt")
    assert refused(app, "nobody@example.com") == "form_password_incorrect"
    assert fake.sleeps == [password_timing.CAP] == [1.0]


def test_a_fast_imported_digest_is_padded_up_to_argon2id(app, fake):
    import_user(app, "md5@example.com", hashlib.md5(PASSWORD.encode()).hexdigest(), "md5")
    assert refused(app, "md5@example.com") == "form_password_incorrect"
    assert fake.sleeps == [0.02]


def test_the_floor_is_measured_again_after_its_ttl_or_an_import(app, fake):
    assert fake.floor.floor() == 0.0
    import_user(app, "dear@example.com", bcrypt_digest(8), "bcrypt")
    assert fake.floor.floor() == 0.0, "cached for a minute"
    fake.now += password_timing.TTL
    assert fake.floor.floor() == 0.24
    import_user(app, "dearer@example.com", bcrypt_digest(9), "bcrypt")
    fake.floor.invalidate()
    assert fake.floor.floor() == 0.48
    with app.extensions["clerk"].instance.store.session() as db:
        for user in db.query(User).all():
            user.password_digest, user.password_hasher = "$argon2id$…", None
        db.commit()
    fake.now += password_timing.TTL
    assert fake.floor.floor() == 0.0, "every imported digest was replaced"


def test_the_real_timer_measures_a_verify(app):
    instance = app.extensions["clerk"].instance
    floor = FailureFloor(instance.store, instance.hasher)
    import_user(app, "dear@example.com", bcrypt_digest(6), "bcrypt")
    measured = floor.floor()
    assert 0 < measured <= password_timing.CAP
    assert floor.floor() == measured


def test_samples_hold_every_bcrypt_cost_present(app):
    for n, cost in enumerate([4, 5, 4, 6, 5]):
        import_user(app, f"b{n}@example.com", bcrypt_digest(cost), "bcrypt")
    import_user(app, "p@example.com", pbkdf2_sha256.using(rounds=1000).hash(PASSWORD),
                "pbkdf2_sha256")
    import_user(app, "n@example.com", None, "md5")
    with app.extensions["clerk"].instance.store.session() as db:
        samples = imported_digest_samples(db)
    assert sorted(samples) == ["bcrypt", "pbkdf2_sha256"]
    assert sorted(d[:7] for d in samples["bcrypt"]) == ["$2b$04$", "$2b$05$", "$2b$06$"]
    assert len(samples["pbkdf2_sha256"]) == 1
