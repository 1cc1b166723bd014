"""Lighter's signatures, verified the way the venue verifies them, and the public key of a
private key (the connector's check at start that its key is the registered one; the
emulator's check of every signature).

Lighter signs with Schnorr over the ECgFp5 curve and the Poseidon2 hash over the
Goldilocks field (elliottech/poseidon_crypto, which the lighter-sdk's Go signer links;
its Python side ships only a signer). This module is a plain-integer port of the
*verifying* half, read from those sources:

* ``poseidon_crypto`` ``field/goldilocks_quintic_extension`` (GF(p^5) = GF(p)[X]/(X^5 - 3)),
  ``hash/poseidon2_goldilocks_plonky2`` (width 12, rate 8, 8 full + 22 partial rounds, the
  round constants and the internal diagonal; ``HashNToMNoPad``), ``curve/ecgfp5``
  (``DecodeFp5AsWeierstrass``, the short Weierstrass group law, ``Encode``, the generator,
  the group order) and ``signature/schnorr`` (``IsSchnorrSignatureValid``:
  ``e == H(encode(s*G + e*pk) || H(m))``, ``Sig`` = s || e, 40 bytes little-endian each);
* ``lighter-go`` ``types/txtypes/*.go`` ``Hash``: each transaction's message is the Poseidon2
  hash of (chain id, tx type, nonce, expired at, account index, api key index, its fields);
  ``types/tx_request.go`` ``ConstructAuthToken``: the token is
  ``"<deadline>:<account>:<key>:<hex sig>"`` over the hash of the message's bytes.

It is right only if it accepts what the real signer signs: ``tests/lighter/test_signatures.py``
checks it against lighter-sdk 1.1.8 (its tx hashes, public keys and signatures). Pure Python:
a verification costs ~5 ms, a public key ~2 ms once the generator's table is built (~50 ms,
once per process): callers on an event loop run them in a worker thread.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

P = 2**64 - 2**32 + 1
"""The Goldilocks prime."""
ORDER = int(
    "1067993516717146951041484916571792702745057740581727230159139685185762082554198619328292418486241"
)
"""The prime order of the ECgFp5 group."""

F5 = tuple[int, int, int, int, int]
ZERO5: F5 = (0, 0, 0, 0, 0)

# -- GF(p^5) -------------------------------------------------------------------------

_GAMMA = pow(3, (P - 1) // 5, P)
_FROB = [[pow(_GAMMA, i * k, P) for i in range(5)] for k in range(5)]


def f5(*limbs: int) -> F5:
    out = [x % P for x in limbs] + [0] * (5 - len(limbs))
    return (out[0], out[1], out[2], out[3], out[4])


def add5(a: F5, b: F5) -> F5:
    return (
        (a[0] + b[0]) % P, (a[1] + b[1]) % P, (a[2] + b[2]) % P, (a[3] + b[3]) % P,
        (a[4] + b[4]) % P,
    )  # fmt: skip


def sub5(a: F5, b: F5) -> F5:
    return (
        (a[0] - b[0]) % P, (a[1] - b[1]) % P, (a[2] - b[2]) % P, (a[3] - b[3]) % P,
        (a[4] - b[4]) % P,
    )  # fmt: skip


def neg5(a: F5) -> F5:
    return f5(-a[0], -a[1], -a[2], -a[3], -a[4])


def mul5(a: F5, b: F5) -> F5:
    a0, a1, a2, a3, a4 = a
    b0, b1, b2, b3, b4 = b
    return (
        (a0 * b0 + 3 * (a1 * b4 + a2 * b3 + a3 * b2 + a4 * b1)) % P,
        (a0 * b1 + a1 * b0 + 3 * (a2 * b4 + a3 * b3 + a4 * b2)) % P,
        (a0 * b2 + a1 * b1 + a2 * b0 + 3 * (a3 * b4 + a4 * b3)) % P,
        (a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0 + 3 * a4 * b4) % P,
        (a0 * b4 + a1 * b3 + a2 * b2 + a3 * b1 + a4 * b0) % P,
    )


def scale5(a: F5, k: int) -> F5:
    return (a[0] * k % P, a[1] * k % P, a[2] * k % P, a[3] * k % P, a[4] * k % P)


def frob5(a: F5, k: int = 1) -> F5:
    c = _FROB[k % 5]
    return f5(a[0], a[1] * c[1], a[2] * c[2], a[3] * c[3], a[4] * c[4])


def _norm_parts(a: F5) -> tuple[F5, int]:
    """(a^(p + p^2 + p^3 + p^4), the norm a^(1 + p + ... + p^4) in GF(p))."""
    d = frob5(a)
    e = mul5(d, frob5(d))
    f = mul5(e, frob5(e, 2))
    return f, mul5(a, f)[0]


def inv5(a: F5) -> F5:
    """a^-1, 0 for 0 (``InverseOrZero``)."""
    if a == ZERO5:
        return ZERO5
    f, norm = _norm_parts(a)
    return scale5(f, pow(norm, P - 2, P))


def is_square5(a: F5) -> bool:
    """Legendre symbol 1 (0 is not counted as a square, as in ``Legendre``)."""
    _, norm = _norm_parts(a)
    return norm != 0 and pow(norm, (P - 1) // 2, P) == 1


def _sqrt_base(x: int) -> int | None:
    """Tonelli-Shanks in GF(p) (p - 1 = 2^32 * odd)."""
    if x == 0:
        return 0
    if pow(x, (P - 1) // 2, P) != 1:
        return None
    q, s = P - 1, 0
    while q % 2 == 0:
        q //= 2
        s += 1
    z = 7  # a generator of GF(p)*: a non-residue
    m, c, t, r = s, pow(z, q, P), pow(x, q, P), pow(x, (q + 1) // 2, P)
    while t != 1:
        i, t2 = 0, t
        while t2 != 1:
            t2 = t2 * t2 % P
            i += 1
        b = pow(c, 1 << (m - i - 1), P)
        m, c, t, r = i, b * b % P, t * b * b % P, r * b % P
    return r


def sqrt5(x: F5) -> F5 | None:
    """A square root in GF(p^5) (``Sqrt``: reduce to one square root in GF(p))."""
    v = x
    for _ in range(31):
        v = mul5(v, v)
    v32 = v
    for _ in range(32):
        v32 = mul5(v32, v32)
    d = mul5(mul5(x, v32), inv5(v))
    e = frob5(mul5(d, frob5(d, 2)))
    f = mul5(e, e)
    s = _sqrt_base(mul5(x, f)[0])
    if s is None:
        return None
    return scale5(inv5(e), s)


# -- Poseidon2 (poseidon2_goldilocks_plonky2) --------------------------------------------

WIDTH, RATE = 12, 8
_EXTERNAL = (
    (15492826721047263190, 11728330187201910315, 8836021247773420868, 16777404051263952451,
     5510875212538051896, 6173089941271892285, 2927757366422211339, 10340958981325008808,
     8541987352684552425, 9739599543776434497, 15073950188101532019, 12084856431752384512),
    (4584713381960671270, 8807052963476652830, 54136601502601741, 4872702333905478703,
     5551030319979516287, 12889366755535460989, 16329242193178844328, 412018088475211848,
     10505784623379650541, 9758812378619434837, 7421979329386275117, 375240370024755551),
    (3331431125640721931, 15684937309956309981, 578521833432107983, 14379242000670861838,
     17922409828154900976, 8153494278429192257, 15904673920630731971, 11217863998460634216,
     3301540195510742136, 9937973023749922003, 3059102938155026419, 1895288289490976132),
    (5580912693628927540, 10064804080494788323, 9582481583369602410, 10186259561546797986,
     247426333829703916, 13193193905461376067, 6386232593701758044, 17954717245501896472,
     1531720443376282699, 2455761864255501970, 11234429217864304495, 4746959618548874102),
    (13571697342473846203, 17477857865056504753, 15963032953523553760, 16033593225279635898,
     14252634232868282405, 8219748254835277737, 7459165569491914711, 15855939513193752003,
     16788866461340278896, 7102224659693946577, 3024718005636976471, 13695468978618890430),
    (8214202050877825436, 2670727992739346204, 16259532062589659211, 11869922396257088411,
     3179482916972760137, 13525476046633427808, 3217337278042947412, 14494689598654046340,
     15837379330312175383, 8029037639801151344, 2153456285263517937, 8301106462311849241),
    (13294194396455217955, 17394768489610594315, 12847609130464867455, 14015739446356528640,
     5879251655839607853, 9747000124977436185, 8950393546890284269, 10765765936405694368,
     14695323910334139959, 16366254691123000864, 15292774414889043182, 10910394433429313384),
    (17253424460214596184, 3442854447664030446, 3005570425335613727, 10859158614900201063,
     9763230642109343539, 6647722546511515039, 909012944955815706, 18101204076790399111,
     11588128829349125809, 15863878496612806566, 5201119062417750399, 176665553780565743),
)  # fmt: skip
_INTERNAL = (
    11921381764981422944, 10318423381711320787, 8291411502347000766, 229948027109387563,
    9152521390190983261, 7129306032690285515, 15395989607365232011, 8641397269074305925,
    17256848792241043600, 6046475228902245682, 12041608676381094092, 12785542378683951657,
    14546032085337914034, 3304199118235116851, 16499627707072547655, 10386478025625759321,
    13475579315436919170, 16042710511297532028, 1411266850385657080, 9024840976168649958,
    14047056970978379368, 838728605080212101,
)  # fmt: skip
_DIAG = (
    0xC3B6C08E23BA9300, 0xD84B5DE94A324FB6, 0x0D0C371C5B35B84F, 0x7964F570E7188037,
    0x5DAF18BBD996604B, 0x6743BC47B9595257, 0x5528B9362C59BB70, 0xAC45E25B7127B68B,
    0xA2077D7DFBB606B5, 0xF3FAAC6FAEE378AE, 0x0C6388B51545E883, 0xD27DBB6944917B60,
)  # fmt: skip


def _external(s: list[int]) -> None:
    for i in range(0, WIDTH, 4):
        x0, x1, x2, x3 = s[i], s[i + 1], s[i + 2], s[i + 3]
        t01, t23 = x0 + x1, x2 + x3
        t0123 = t01 + t23
        s[i] = t0123 + t01 + x1
        s[i + 1] = t0123 + x1 + 2 * x2
        s[i + 2] = t0123 + t23 + x3
        s[i + 3] = t0123 + x3 + 2 * x0
    sums = [s[j] + s[j + 4] + s[j + 8] for j in range(4)]
    for i in range(WIDTH):
        s[i] = (s[i] + sums[i % 4]) % P


def _full_rounds(s: list[int], start: int) -> None:
    for r in range(start, start + 4):
        rc = _EXTERNAL[r]
        for i in range(WIDTH):
            s[i] = pow(s[i] + rc[i], 7, P)
        _external(s)


def permute(s: list[int]) -> None:
    """Poseidon2's permutation of a 12-element state, in place."""
    _external(s)
    _full_rounds(s, 0)
    for r in range(22):
        s[0] = pow(s[0] + _INTERNAL[r], 7, P)
        total = sum(s)
        for i in range(WIDTH):
            s[i] = (total + s[i] * _DIAG[i]) % P
    _full_rounds(s, 4)


def hash_n_to_m(inputs: Sequence[int], outputs: int) -> list[int]:
    """``HashNToMNoPad``: absorb by overwriting the rate, squeeze the rate."""
    state = [0] * WIDTH
    for i in range(0, len(inputs), RATE):
        chunk = inputs[i : i + RATE]
        state[: len(chunk)] = [x % P for x in chunk]
        permute(state)
    out: list[int] = []
    while True:
        for i in range(RATE):
            out.append(state[i])
            if len(out) == outputs:
                return out
        permute(state)


def hash_to_f5(inputs: Sequence[int]) -> F5:
    h = hash_n_to_m(inputs, 5)
    return (h[0], h[1], h[2], h[3], h[4])


# -- ECgFp5 in short Weierstrass form ----------------------------------------------------

_A_CURVE = f5(2)
_B_MUL4 = f5(0, 4 * 263)
_A_THIRD = scale5(_A_CURVE, pow(3, P - 2, P))
_A_W = f5(6148914689804861439, 263)
Point = tuple[F5, F5] | None
"""(x, y) on y^2 = x^3 + A_W x + B_W; None is the neutral point."""
GENERATOR: Point = (
    f5(11712523173042564207, 14090224426659529053, 13197813503519687414,
       16280770174934269299, 15998333998318935536),
    f5(14639054205878357578, 17426078571020221072, 2548978194165003307,
       8663895577921260088, 9793640284382595140),
)  # fmt: skip


def decode(w: F5) -> Point | bool:
    """``DecodeFp5AsWeierstrass``: the point an encoding stands for; False if none."""
    if w == ZERO5:
        return None
    e = sub5(mul5(w, w), _A_CURVE)
    r = sqrt5(sub5(mul5(e, e), _B_MUL4))
    if r is None:
        return False
    half = pow(2, P - 2, P)
    x1 = scale5(add5(e, r), half)
    x2 = scale5(sub5(e, r), half)
    x = x1 if is_square5(x1) else x2
    y = neg5(mul5(w, x))
    return (add5(x, _A_THIRD), y)


def encode(p: Point) -> F5:
    if p is None:
        return ZERO5
    x, y = p
    return mul5(y, inv5(sub5(_A_THIRD, x)))


def add_points(p: Point, q: Point) -> Point:
    if p is None:
        return q
    if q is None:
        return p
    (x1, y1), (x2, y2) = p, q
    if x1 == x2:
        if y1 != y2 or y1 == ZERO5:
            return None
        lam = mul5(add5(scale5(mul5(x1, x1), 3), _A_W), inv5(scale5(y1, 2)))
    else:
        lam = mul5(sub5(y2, y1), inv5(sub5(x2, x1)))
    x3 = sub5(sub5(mul5(lam, lam), x1), x2)
    return (x3, sub5(mul5(lam, sub5(x1, x3)), y1))


Table = list[list[Point]]
"""``table[i][j]`` = j * 16^i * P: a scalar times P is then 80 additions, no doublings."""


def nibble_table(p: Point) -> Table:
    table: Table = []
    base = p
    for _ in range(80):
        row: list[Point] = [None, base]
        for _ in range(14):
            row.append(add_points(row[-1], base))
        table.append(row)
        base = add_points(row[15], base)  # 16 * base
    return table


_Jacobian = tuple[F5, F5, F5]


def _add_mixed(acc: _Jacobian | None, q: Point) -> _Jacobian | None:
    """acc (Jacobian: x = X/Z^2, y = Y/Z^3) + q (affine), madd-2007-bl; the rare equal-x
    case goes through the affine law."""
    if q is None:
        return acc
    x2, y2 = q
    if acc is None:
        return (x2, y2, f5(1))
    x1, y1, z1 = acc
    z1z1 = mul5(z1, z1)
    u2 = mul5(x2, z1z1)
    s2 = mul5(y2, mul5(z1, z1z1))
    h = sub5(u2, x1)
    r = scale5(sub5(s2, y1), 2)
    if h == ZERO5:
        summed = add_points(_affine(acc), q)
        return None if summed is None else (summed[0], summed[1], f5(1))
    hh = mul5(h, h)
    i = scale5(hh, 4)
    j = mul5(h, i)
    v = mul5(x1, i)
    x3 = sub5(sub5(mul5(r, r), j), scale5(v, 2))
    y3 = sub5(mul5(r, sub5(v, x3)), scale5(mul5(y1, j), 2))
    zh = add5(z1, h)
    z3 = sub5(sub5(mul5(zh, zh), z1z1), hh)
    return (x3, y3, z3)


def _affine(p: _Jacobian | None) -> Point:
    if p is None:
        return None
    x, y, z = p
    if z == ZERO5:
        return None
    zi = inv5(z)
    zi2 = mul5(zi, zi)
    return (mul5(x, zi2), mul5(y, mul5(zi2, zi)))


def mul_add2(ta: Table, tb: Table, ka: int, kb: int) -> Point:
    """ka*A + kb*B from their nibble tables (the group element ``MulAdd2`` computes)."""
    acc: _Jacobian | None = None
    for i in range(80):
        acc = _add_mixed(acc, ta[i][(ka >> (4 * i)) & 15])
        acc = _add_mixed(acc, tb[i][(kb >> (4 * i)) & 15])
    return _affine(acc)


_GENERATOR_TABLE: Table = []
_GENERATOR_LOCK = threading.Lock()


def generator_table() -> Table:
    """G's table, built once per process (~50 ms; the emulator's and the connector's
    threads may ask at once)."""
    with _GENERATOR_LOCK:
        if not _GENERATOR_TABLE:
            _GENERATOR_TABLE.extend(nibble_table(GENERATOR))
    return _GENERATOR_TABLE


# -- Schnorr and Lighter's messages ---------------------------------------------------


def f5_from_bytes(data: bytes) -> F5 | None:
    """40 bytes, five canonical little-endian limbs (``FromCanonicalLittleEndianBytes``
    takes them as they are; a limb >= p is not an element: refused here)."""
    if len(data) != 40:
        return None
    limbs = [int.from_bytes(data[i : i + 8], "little") for i in range(0, 40, 8)]
    if any(x >= P for x in limbs):
        return None
    return (limbs[0], limbs[1], limbs[2], limbs[3], limbs[4])


def f5_to_bytes(a: F5) -> bytes:
    return b"".join(x.to_bytes(8, "little") for x in a)


class PublicKey:
    """A registered public key, decoded once; its table is built at the first verification
    (~50 ms: a key never used costs nothing). ``valid`` is False for 40 bytes that encode
    no point."""

    def __init__(self, public_key: bytes) -> None:
        w = f5_from_bytes(public_key)
        point = False if w is None else decode(w)
        self.valid = point is not False
        self._point: Point = point if point is not False else None
        self._table: Table = []
        self._lock = threading.Lock()

    @property
    def table(self) -> Table:
        with self._lock:
            if not self._table:
                self._table = nibble_table(self._point)
        return self._table

    def verify(self, message: F5, signature: bytes) -> bool:
        """``IsSchnorrSignatureValid``: ``e == H(encode(s*G + e*pk) || message)``."""
        if not self.valid or len(signature) != 80:
            return False
        s = int.from_bytes(signature[:40], "little") % ORDER
        e = int.from_bytes(signature[40:], "little") % ORDER
        r = encode(mul_add2(generator_table(), self.table, s, e))
        h = hash_to_f5(list(r) + list(message))
        return sum(limb << (64 * i) for i, limb in enumerate(h)) % ORDER == e


def public_key_of(private_key: str) -> str:
    """The public key (80 hex digits, as ``/api/v1/apikeys`` lists it) of an API private
    key (``0x`` + 80 hex digits: a scalar, 40 bytes little-endian, reduced as
    ``ScalarElementFromLittleEndianBytes`` does): ``encode(sk * G)`` (``SchnorrPkFromSk``).
    ValueError for a key that is not 40 bytes of hex."""
    raw = bytes.fromhex(private_key.removeprefix("0x"))
    if len(raw) != 40:
        raise ValueError("a Lighter API private key is 40 bytes")
    table = generator_table()
    return f5_to_bytes(
        encode(mul_add2(table, table, int.from_bytes(raw, "little") % ORDER, 0))
    ).hex()


TX_FIELDS: dict[int, tuple[str, ...]] = {
    14: (
        "MarketIndex", "ClientOrderIndex", "BaseAmount", "Price", "IsAsk", "Type",
        "TimeInForce", "ReduceOnly", "TriggerPrice", "OrderExpiry",
    ),
    15: ("MarketIndex", "Index"),
    16: ("TimeInForce", "Time"),
    17: ("MarketIndex", "Index", "BaseAmount", "Price", "TriggerPrice"),
}  # fmt: skip
"""Per tx type (CreateOrder 14, CancelOrder 15, CancelAllOrders 16, ModifyOrder 17), the
fields each ``Hash`` takes after the common ones (lighter-go ``types/txtypes``)."""


ATTRIBUTE_NIL = {1: 0, 2: 0, 3: 0, 4: 0, 5: 255, 6: 0, 7: 0}
"""Each tx attribute type's nil value (lighter-go ``tx_attributes.go``: a nil attribute is
left out of the hash)."""
ATTRIBUTES_PER_TX = 4


def tx_message(
    chain_id: int, tx_type: int, info: dict[str, Any], attributes: dict[str, int] | None = None
) -> F5:
    """The message a transaction's ``Sig`` signs: the hash of its fields, then with its
    attributes' hash when any is not nil (``AggregateTxHash``). KeyError / ValueError for
    a field or attribute the hash does not know."""
    elems = [chain_id, tx_type, info["Nonce"], info["ExpiredAt"], info["AccountIndex"]]
    elems.append(info["ApiKeyIndex"])
    elems.extend(info[name] for name in TX_FIELDS[tx_type])
    tx_hash = hash_to_f5([v % 2**64 for v in elems])
    attrs = sorted((int(k), v) for k, v in (attributes or {}).items() if v != ATTRIBUTE_NIL[int(k)])
    if not attrs:
        return tx_hash
    if len(attrs) > ATTRIBUTES_PER_TX:
        raise ValueError("too many tx attributes")
    attrs += [(0, 0)] * (ATTRIBUTES_PER_TX - len(attrs))
    attr_hash = hash_to_f5([x % 2**64 for pair in attrs for x in pair])
    return hash_to_f5(list(tx_hash) + list(attr_hash))


def auth_message(text: str) -> F5:
    """The message of an auth token's ``<deadline>:<account>:<key>`` part: its bytes as
    little-endian 8-byte limbs (``ArrayFromCanonicalLittleEndianBytes``)."""
    raw = text.encode()
    limbs = [int.from_bytes(raw[i : i + 8], "little") for i in range(0, len(raw), 8)]
    return hash_to_f5(limbs)
