"""How the report writes numbers: signed differences with a true minus sign, p-values that never
round a significant p up to alpha, the significance mark, and a comparison in one sentence."""

from __future__ import annotations

from ..core.stats import ALPHA

MINUS = "\u2212"


def significant(p: float | None, alpha: float = ALPHA) -> bool:
    return p is not None and p < alpha


def marker(p: float | None, alpha: float = ALPHA) -> str:
    """"†" when p < alpha (two-sided, vs M_0), else ""."""
    return "†" if significant(p, alpha) else ""


def signed(x: float, digits: int = 1) -> str:
    """+1.7 / −0.9 (a true minus sign) / 0.0."""
    s = f"{abs(x):.{digits}f}"
    if float(s) == 0:
        return s
    return ("+" if x > 0 else MINUS) + s


def p_text(p: float, alpha: float = ALPHA) -> str:
    """"0.40", "0.012", "< 0.001"; never rounds a significant p up to alpha."""
    if p < 0.001:
        return "< 0.001"
    digits = 2 if p >= 0.1 else 3
    s = f"{p:.{digits}f}"
    while p < alpha <= float(s) and digits < 8:
        digits += 1
        s = f"{p:.{digits}f}"
    return s


def format_p(p: float | None, alpha: float = ALPHA) -> str:
    """"p = 0.40", "p = 0.012", "p < 0.001"."""
    if p is None:
        return "p = –"
    t = p_text(p, alpha)
    return f"p {t}" if t.startswith("<") else f"p = {t}"


def sentence(name: str, t: int, res: dict, *, digits: int = 1, alpha: float = ALPHA,
             what: str = "") -> str:
    """"LANCE M_3 vs M_0: +1.7 points [−0.9, +4.3], not significant (p = 0.40)"."""
    head = f"{name} M_{t} vs M_0{(' (' + what + ')') if what else ''}: {signed(res['delta'], digits)} points"
    if res.get("p") is None or res.get("low") is None:
        return head + " (no per-item scores: no interval, no test)"
    verdict = "significant" if significant(res["p"], alpha) else "not significant"
    return (f"{head} [{signed(res['low'], digits)}, {signed(res['high'], digits)}], {verdict} "
            f"({format_p(res['p'], alpha)})")
