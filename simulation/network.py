"""Networks of ties between sites, built straight into sparse adjacency matrices.

Generated networks use the run's ``network`` stream. ``small_world``, ``random`` and ``regions`` (a
stochastic block model) are generated vectorised into arrays (networkx's dict-of-dicts takes
minutes at a million sites); ``scale_free`` uses networkx's generator with the stream passed as
``seed=``. Files: an edge list CSV
(``source,target`` and an optional ``weight``) or GraphML, with an optional site table.

The adjacency matrix ``W`` is a ``scipy.sparse.csr_array`` with ``W[i, j]`` the weight of the tie
through which site ``i`` is influenced by site ``j`` (symmetric unless the network is directed).
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import limits
from .errors import InputError, Problem, fail, warn
from .safe_io import decode_text, read_capped
from .scenario import TRAIT_RANGES, Scenario, region_sizes, structure_problems  # noqa: F401 (re-exported)


@dataclass
class Built:
    """The sites and ties of a run before traits are drawn."""

    ids: np.ndarray  # site ids as given (ints for generated networks, text for files)
    W: sp.csr_array
    table: pd.DataFrame | None = None  # site table, indexed like ids, trait columns only
    region: np.ndarray | None = None  # region index per site for the 'regions' network
    region_labels: list[str] | None = None  # the groups, when the regions are the groups


def _sym_csr(n: int, src: np.ndarray, dst: np.ndarray, w: np.ndarray | None = None, directed=False) -> sp.csr_array:
    keep = src != dst
    src, dst = src[keep], dst[keep]
    w = np.ones(len(src)) if w is None else np.asarray(w, float)[keep]
    if not directed:
        src, dst, w = np.concatenate([src, dst]), np.concatenate([dst, src]), np.concatenate([w, w])
    W = sp.coo_array((w, (src.astype(np.int64), dst.astype(np.int64))), shape=(n, n)).tocsr()
    W.sum_duplicates()
    return W


def _binary(W: sp.csr_array) -> sp.csr_array:
    W.data[:] = 1.0
    W.eliminate_zeros()
    return W


def small_world(n: int, k: int, p: float, rng: np.random.Generator) -> sp.csr_array:
    """Watts–Strogatz small-world network, vectorised.

    A ring lattice where each site is tied to its ``k/2`` nearest neighbours on each side; each tie's
    far end is rewired with probability ``p`` to a uniformly chosen site. Ties that would become
    self-loops are dropped and duplicates merged, so the mean degree is ``k`` up to O(1/n).

    References:
        Watts, D. J. & Strogatz, S. H. (1998). Collective dynamics of 'small-world' networks. Nature.
    """
    if k % 2:
        raise ValueError(f"network.k must be even for a ring lattice, got {k}")
    half = min(k // 2, n // 2)  # n // 2: with two sites and k = 2 the pair is tied (duplicates merge)
    if n < 2 or half == 0:
        return sp.csr_array((n, n))
    src = np.repeat(np.arange(n, dtype=np.int64), half)
    dst = (src + np.tile(np.arange(1, half + 1, dtype=np.int64), n)) % n
    rewire = rng.random(len(src)) < p
    dst[rewire] = rng.integers(0, n, int(rewire.sum()))
    return _binary(_sym_csr(n, src, dst))


def random_graph(n: int, degree: float, rng: np.random.Generator) -> sp.csr_array:
    """Erdős–Rényi random network with expected mean degree ``degree``, vectorised.

    The number of ties is drawn as Binomial(n(n-1)/2, p) with p = degree/(n-1), then that many site
    pairs uniformly; self-pairs are dropped and duplicates merged (negligible when sparse).

    References:
        Erdős, P. & Rényi, A. (1959). On random graphs I. Publicationes Mathematicae.
    """
    if n < 2:
        return sp.csr_array((n, n))
    p = min(1.0, degree / (n - 1))
    m = int(rng.binomial(n * (n - 1) // 2, p))
    src = rng.integers(0, n, m)
    dst = rng.integers(0, n, m)
    return _binary(_sym_csr(n, src, dst))


def _from_nx(G, nodes) -> sp.csr_array:
    import networkx as nx  # only for scale-free and GraphML networks (0.1-0.4 s to import)

    W = nx.to_scipy_sparse_array(G, nodelist=nodes, weight="weight", format="csr", dtype=float)
    return sp.csr_array(W)


def build(sc: Scenario, rng: np.random.Generator) -> Built:
    """Build the sites and ties the scenario asks for (raises InputError on bad files)."""
    net = sc.network
    table = read_site_table(sc) if sc.sites.file else None
    if net.type == "file":
        if not net.file:
            raise fail(sc.source, "network.file", "network.type is 'file' but no network.file is given")
        return _load_network(sc, table)
    if table is not None:
        ids = table.index.to_numpy()
        n = len(ids)
    else:
        n = sc.sites.n
    errors, _ = structure_problems(sc, n)
    if errors:
        raise InputError(errors)
    field = "network.type" if net.type == "complete" else ("sites.file" if table is not None else "sites.n")
    if net.type in ("random", "regions") and table is None and n > 1:
        field = "network.p_within" if net.type == "regions" and net.p_within is not None else "network.degree"
    limits.check_memory(n, limits.estimated_ties(net, n, sc.sites), sc.months, agents=True,
                        counterfactual=sc.outcomes.counterfactual, source=sc.source, field=field)
    if table is None:
        ids = np.arange(n)
    region, labels = None, None
    if net.type == "small_world":
        if net.k > n and n > 1:  # as networkx: k = n gives the complete network
            raise fail(sc.source, "network.k", f"k={net.k} must not exceed the number of sites ({n}); choose a smaller k")
        try:
            W = small_world(n, net.k, net.p, rng)
        except ValueError as err:
            raise fail(sc.source, "network.k", str(err)) from None
    elif net.type == "random":
        W = random_graph(n, net.degree, rng)
    elif net.type == "scale_free":
        if net.m >= n:
            raise fail(sc.source, "network.m", f"m={net.m} must be smaller than the number of sites ({n})")
        import networkx as nx

        W = _from_nx(nx.barabasi_albert_graph(n, net.m, seed=rng), range(n))
    elif net.type == "regions":
        W, region, labels = _regions(sc, n, rng)
    elif net.type == "complete":
        if n > 20_000:
            raise fail(sc.source, "network.type", f"a complete network of {n} sites is too large (at most 20,000)")
        W = sp.csr_array(np.ones((n, n)) - np.eye(n))
    else:  # none
        W = sp.csr_array((n, n))
    return Built(ids=ids, W=W, table=table, region=region, region_labels=labels)


def _regions(sc: Scenario, n: int, rng: np.random.Generator):
    """A stochastic block model: ``regions`` blocks of equal size, or one block per group of sites
    (``regions: groups``, sizes from ``sites.groups``). Tie probabilities inside and between blocks
    are ``p_within`` and ``p_between`` when given, otherwise set so that a site has ``degree`` ties on
    average, a share ``within`` of them inside its block."""
    net = sc.network
    labels = None
    if net.regions == "groups":
        sizes_by = sc.sites.group_sizes(n)
        labels = list(sizes_by)
        sizes = list(sizes_by.values())
        if sum(sizes) != n:
            raise fail(sc.source, "sites.groups", f"group sizes add up to {sum(sizes)} but there are {n} sites")
    else:
        b = min(net.regions, n)
        sizes = [n // b + (1 if i < n % b else 0) for i in range(b)]
    b = len(sizes)
    if net.p_within is not None:
        P = [[net.p_within if i == j else net.p_between for j in range(b)] for i in range(b)]
    else:
        inside = [s - 1 for s in sizes]
        p_in = [min(1.0, net.degree * net.within / max(1, d)) for d in inside]
        outside = n - np.array(sizes)
        p_out = min(1.0, net.degree * (1 - net.within) / max(1, outside.mean())) if b > 1 else 0.0
        P = [[p_in[i] if i == j else p_out for j in range(b)] for i in range(b)]
    return block_model(sizes, P, rng), np.repeat(np.arange(b), sizes), labels


def block_model(sizes: list[int], P: list[list[float]], rng: np.random.Generator) -> sp.csr_array:
    """Stochastic block model, vectorised: each pair of sites in blocks ``i`` and ``j`` is tied with
    probability ``P[i][j]``, independently.

    For each pair of blocks the number of ties is drawn from its binomial distribution, then that
    many distinct pairs are drawn uniformly (exactly, without replacement, up to 20 million possible
    pairs; beyond that with replacement and duplicates merged, a negligible difference in sparse
    networks). networkx's generator loops over pairs in Python: minutes at 100,000 sites.

    References:
        Holland, P. W., Laskey, K. B. & Leinhardt, S. (1983). Stochastic blockmodels: first steps. Social Networks.
    """
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n = int(starts[-1])
    src, dst = [], []
    for i, si in enumerate(sizes):
        for j in range(i, len(sizes)):
            p = float(P[i][j])
            sj = sizes[j]
            pairs = si * (si - 1) // 2 if i == j else si * sj
            if p <= 0 or pairs == 0:
                continue
            m = int(rng.binomial(pairs, min(p, 1.0)))
            if m == 0:
                continue
            k = rng.choice(pairs, m, replace=False) if pairs <= 20_000_000 else rng.integers(0, pairs, m)
            if i == j:  # k-th pair (a < b) of the block, in row order
                a = (np.floor((np.sqrt(8.0 * k + 1) - 1) / 2)).astype(np.int64) + 1
                fix = a * (a - 1) // 2 > k
                a[fix] -= 1
                b = k - a * (a - 1) // 2
                src.append(starts[i] + a)
                dst.append(starts[i] + b)
            else:
                src.append(starts[i] + k // sj)
                dst.append(starts[j] + k % sj)
    if not src:
        return sp.csr_array((n, n))
    return _binary(_sym_csr(n, np.concatenate(src), np.concatenate(dst)))


# ------------------------------------------------------------------------------------ file input
#: columns a site table may have besides ``site``: the traits and ``group``
SITE_COLUMNS = (*TRAIT_RANGES, "group")


def _lines(mask) -> str:
    """``line 4`` or ``lines 4, 9, 12 and 3 more`` for the rows of a mask (line 1 is the header)."""
    rows = (np.flatnonzero(np.asarray(mask)) + 2).tolist()
    head = ", ".join(map(str, rows[:5])) + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")
    return ("line " if len(rows) == 1 else "lines ") + head


def read_site_table(sc: Scenario) -> pd.DataFrame:
    """Read the site table CSV: a unique ``site`` column plus known trait columns and ``group``.

    Raises:
        InputError: naming the file, the column and the lines (never their content): no ``site``
            column, blank or repeated ids, no sites, trait values that are not numbers or lie
            outside the trait's range, blank groups.
    """
    path = sc.resolve_path(sc.sites.file)
    df = _read_csv(path, "site table")
    if "site" not in df.columns:
        close = [c for c in df.columns if c.strip().lower() in ("site", "sites", "site_id", "id", "name")]
        hint = f" (is '{close[0]}' meant as 'site'?)" if close else ""
        raise fail(str(path), "site", f"the site table needs a 'site' column in its header{hint}", line=1)
    if len(df) == 0:
        raise fail(str(path), "site", "the site table has no sites (only a header)", line=1)
    df["site"] = df["site"].astype(str).str.strip()
    blank = df["site"].isin(["", "nan", "None"])
    if blank.any():
        raise fail(str(path), "site", f"empty site id on {_lines(blank)}")
    dup = df["site"].duplicated(keep=False)
    if dup.any():
        raise fail(str(path), "site", f"the same site id appears more than once, on {_lines(dup)}")
    same = df["site"].isin(unicode_clashes(df["site"].tolist()))
    if same.any():
        raise fail(str(path), "site", f"site ids that differ only in their Unicode form (the same letters written "
                                      f"with composed and decomposed accents), on {_lines(same)}: they would be two "
                                      "sites; write them the same way")
    problems = []
    out = pd.DataFrame(index=pd.Index(df["site"].to_numpy(), name="site"))
    for col in df.columns:
        if col == "site":
            continue
        if col == "group":
            g = df["group"]
            empty = g.isna() | (g.astype(str).str.strip() == "")
            if empty.any():
                problems.append(Problem(str(path), "group", f"blank group on {_lines(empty)}: give every site a "
                                                            "group, or drop the column to draw groups from sites.groups"))
                continue
            out["group"] = g.astype(str).str.strip().to_numpy()
            if list(sc.sites.groups) != ["all"] and not any(
                    any(v is not None for v in spec.traits.model_dump().values()) for spec in sc.sites.group_specs().values()):
                warn(sc.source, "sites.groups", f"has no effect: the site table {path} gives each site's group",
                     stacklevel=2)
            continue
        if col not in TRAIT_RANGES:
            near = difflib.get_close_matches(col.lower(), SITE_COLUMNS, n=1, cutoff=0.75)
            if near:  # other columns (notes, ids, dates) are allowed and left out of the model
                warn(str(path), col, f"column '{col}' is not used (did you mean '{near[0]}'? known columns: "
                                     f"site, {', '.join(SITE_COLUMNS)})", stacklevel=2)
            continue
        vals = pd.to_numeric(df[col], errors="coerce")
        bad = vals.isna() & df[col].notna()
        if bad.any():
            problems.append(Problem(str(path), col, f"not a number on {_lines(bad)}"))
            continue
        lo, hi, integer = TRAIT_RANGES[col]
        out_of = ~np.isfinite(vals.fillna(lo)) | (vals < lo) | (vals > hi)
        if out_of.any():
            problems.append(Problem(str(path), col, f"values must lie in [{lo:g}, {hi:g}]; see {_lines(out_of)}"))
            continue
        if integer and ((vals % 1 != 0) & vals.notna()).any():
            problems.append(Problem(str(path), col, f"must be whole numbers; see {_lines((vals % 1 != 0) & vals.notna())}"))
            continue
        out[col] = vals.to_numpy(dtype=float)  # NaN = draw from the scenario's distribution
    if problems:
        raise InputError(problems)
    return out


def _read_csv(path: Path, what: str = "CSV file") -> pd.DataFrame:
    """A CSV file of at most :data:`limits.MAX_TABLE_BYTES`, every cell as text (blank = NaN)."""
    import io

    text = decode_text(read_capped(path, limits.MAX_TABLE_BYTES, what), path)
    check_csv_shape(text, path)
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, skipinitialspace=True, keep_default_na=False, na_values=[""],
                         index_col=False)
    except pd.errors.EmptyDataError:
        raise fail(str(path), "", f"is empty: a {what} needs a header line") from None
    except (pd.errors.ParserError, ValueError) as err:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(err))
        if m:
            raise fail(str(path), "", f"line {m.group(2)} has {m.group(3)} fields but the header has {m.group(1)}",
                       line=int(m.group(2))) from None
        m = re.search(r"line (\d+)", str(err))
        raise fail(str(path), "", f"cannot read as CSV (a {what})", line=int(m.group(1)) if m else None) from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def check_csv_shape(text: str, path: Path) -> None:
    """Refuse a header naming a column twice (pandas would rename the second ``x.1`` and drop it
    silently) and a row with more fields than the header (pandas would take the first column of
    such a table as its index, shifting every column: a ragged row, not what the header says)."""
    import csv
    import io

    reader = csv.reader(io.StringIO(text), skipinitialspace=True)
    try:
        header = next(reader, None)
        if header is None:
            return
        names = [h.strip() for h in header]
        seen: dict[str, int] = {}
        for i, name in enumerate(names, start=1):
            if name and name in seen:
                raise fail(str(path), name, f"column '{name}' appears twice in the header (columns {seen[name]} "
                                            f"and {i}); keep one", line=1)
            seen.setdefault(name, i)
        width = len(header)
        if _ragged_fast(text, width, path):
            return
        for row in reader:
            if len(row) > width:
                line = reader.line_num
                raise fail(str(path), "", f"line {line} has {len(row)} fields but the header has {width} "
                                          "(a ragged row): remove the extra fields or quote the value", line=line)
    except csv.Error:
        return  # pandas reports malformed quoting with its line


def _ragged_fast(text: str, width: int, path: Path) -> bool:
    """The ragged-row check of :func:`check_csv_shape` without parsing each row in Python, for text
    with no quotes and no line break but ``\\n`` or ``\\r\\n``: a row's fields are then its commas
    plus one (an empty line has none). Raises as the parsed check would; False when the text needs
    the parser."""
    if '"' in text:
        return False
    data = text.replace("\r\n", "\n").encode("utf-8", "surrogatepass")
    if b"\r" in data:
        return False
    buf = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(buf == 10)
    if len(ends) == 0 or ends[-1] != len(buf) - 1:
        ends = np.append(ends, len(buf))  # the last line has no line break
    # each comma's line: the first line end after it (a comma is never a line end)
    fields = np.bincount(np.searchsorted(ends, np.flatnonzero(buf == 44)), minlength=len(ends)) + 1
    starts = np.concatenate([[0], ends[:-1] + 1])
    fields[ends == starts] = 0  # an empty line is no row
    fields[0] = 0  # the header
    over = np.flatnonzero(fields > width)
    if len(over):
        line = int(over[0]) + 1
        raise fail(str(path), "", f"line {line} has {int(fields[over[0]])} fields but the header has {width} "
                                  "(a ragged row): remove the extra fields or quote the value", line=line)
    return True


def _load_network(sc: Scenario, table: pd.DataFrame | None) -> Built:
    path = sc.resolve_path(sc.network.file)
    directed = sc.network.directed
    if path.suffix.lower() in (".graphml", ".xml"):
        src, dst, w, nodes, where = _read_graphml(path)
        codes, names = pd.factorize(np.concatenate([src, dst]))
    else:
        src, dst, w, where = _read_edges(path)
        nodes = None
        codes, names = _factorize_ids(src, dst)
        _check_unicode_forms(path, names, codes, len(where))
    # every id once (names), each end of a tie as the number of its id: ties are checked and
    # mapped on numbers, not text
    m = len(where)
    a, b, w, where = _unique_ties(path, codes[:m], codes[m:], w, directed, where)
    if table is not None:
        ids = table.index.to_numpy()
        pos = pd.Index(ids).get_indexer(names)  # each id's row in the site table (-1: absent)
        i, j = pos[a], pos[b]
        missing = (i < 0) | (j < 0)
        if missing.any():
            rows = where[missing]
            raise fail(str(path), "source/target",
                       f"edges on {_lines_of(rows)} name sites absent from the site table {sc.sites.file}")
    elif nodes is not None:  # GraphML: sites in node order, isolated nodes included
        ids = np.array(nodes, dtype=object)
        pos = pd.Index(ids).get_indexer(names)
        i, j = pos[a], pos[b]
    else:  # sites in order of first appearance (sources first, then targets), once ties are unique
        order = pd.unique(np.concatenate([a, b]))
        ids = np.asarray(names, dtype=object)[order]
        pos = np.full(len(names), -1, dtype=np.intp)
        pos[order] = np.arange(len(order))
        i, j = pos[a], pos[b]
    if len(ids) == 0:
        raise fail(str(path), "", "the network has no sites")
    ties = len(a) * (1 if directed else 2)
    limits.check_memory(len(ids), ties, sc.months, agents=True, counterfactual=sc.outcomes.counterfactual,
                        source=sc.source, field="network.file")
    W = _sym_csr(len(ids), i, j, w, directed=directed)
    return Built(ids=ids, W=W, table=table)


def _factorize_ids(src: pd.Series, dst: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the edge list's ids (sources, then targets) and the ids (text, surrounding spaces
    removed) in order of first appearance: each distinct cell is stripped once, not each tie's."""
    raw_codes, raw = pd.factorize(pd.concat([src, dst], ignore_index=True))
    stripped = pd.Series(np.asarray(raw, dtype=object), dtype=object).str.strip()
    codes, names = pd.factorize(stripped.to_numpy(dtype=object))
    return codes[raw_codes], np.asarray(names, dtype=object)


def _lines_of(rows: np.ndarray, word: str = "line") -> str:
    rows = [int(r) for r in rows]
    head = ", ".join(map(str, rows[:5])) + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")
    return (word if len(rows) == 1 else word + "s") + " " + head


def _unique_ties(path: Path, src: np.ndarray, dst: np.ndarray, w: np.ndarray, directed: bool, where: np.ndarray):
    """Each tie once: self-ties and repeated ties (for an undirected network a-b and b-a are the same
    tie) are dropped with a warning when their weights agree, refused when they differ.

    ``src`` and ``dst`` are the ties' ends as numbers (one per distinct id); returns them, the
    weights and ``where`` (each tie's line or edge number) for the ties kept."""
    word = "edge" if path.suffix.lower() in (".graphml", ".xml") else "line"
    loop = src == dst
    if loop.any():
        warn(str(path), "source/target", f"a site tied to itself on {_lines_of(where[loop], word)}; "
                                         "such ties are ignored", stacklevel=3)
        keep = ~loop
        src, dst, w, where = src[keep], dst[keep], w[keep], where[keep]
    if len(src) == 0:
        return src, dst, w, where
    if directed:
        a, b = src, dst
    else:
        a = np.where(src <= dst, src, dst)
        b = np.where(src <= dst, dst, src)
    pairs = pd.DataFrame({"a": a, "b": b, "w": w})
    dup = pairs.duplicated(["a", "b"], keep=False).to_numpy()
    if dup.any():
        groups = pairs[dup].groupby(["a", "b"], sort=False)["w"]
        differ = (groups.transform("nunique") > 1).to_numpy()
        rows = where[dup]
        if differ.any():
            raise fail(str(path), "weight", f"a tie is listed more than once with different weights, on "
                                            f"{_lines_of(rows[differ], word)}" +
                       ("" if directed else " (the network is undirected: a-b and b-a are the same tie)"))
        first = ~pairs.duplicated(["a", "b"], keep="first").to_numpy()
        warn(str(path), "source/target", f"{int(dup.sum() - (dup & first).sum())} repeated ties ignored, on "
                                         f"{_lines_of(where[dup & ~first], word)}" +
             ("" if directed else " (undirected: a-b and b-a are the same tie)") + "; each tie counts once",
             stacklevel=3)
        src, dst, w, where = src[first], dst[first], w[first], where[first]
    return src, dst, w, where


def _read_edges(path: Path):
    df = _read_csv(path, "edge list")
    cols = list(df.columns)
    missing = [c for c in ("source", "target") if c not in cols]
    if missing:
        raise fail(str(path), ", ".join(missing), "the edge list needs columns 'source' and 'target' in its header",
                   line=1)
    problems = []
    blank = df["source"].isna() | df["target"].isna()
    if blank.any():
        problems.append(Problem(str(path), "source/target", f"empty site id on {_lines(blank)}"))
    if "weight" in df.columns:
        w = pd.to_numeric(df["weight"], errors="coerce")
        bad = w.isna()
        if bad.any():
            problems.append(Problem(str(path), "weight", f"not a number on {_lines(bad)}"))
        elif (~np.isfinite(w)).any():
            problems.append(Problem(str(path), "weight", f"not a finite number on {_lines(~np.isfinite(w))}"))
        elif (w < 0).any():
            problems.append(Problem(str(path), "weight", f"negative weight on {_lines(w < 0)}"))
        elif (w > limits.MAX_FLOAT).any():
            problems.append(Problem(str(path), "weight", f"weight above {limits.MAX_FLOAT:g} on {_lines(w > limits.MAX_FLOAT)}"))
        w = w.to_numpy(float)
    else:
        w = np.ones(len(df))
    if problems:
        raise InputError(problems)
    return df["source"], df["target"], w, np.arange(len(df)) + 2


def unicode_clashes(ids) -> set[str]:
    """The ids (distinct texts) that differ from another only in their Unicode form (``café``
    composed and decomposed, ``K`` and the Kelvin sign): they look the same to the user but would
    be two sites. Only ids with a character beyond ASCII can have another form, so only those, and
    the ids their forms could equal, are normalised."""
    import unicodedata

    wide = [i for i in ids if not i.isascii()]
    if not wide:
        return set()
    forms = {i: unicodedata.normalize("NFC", i) for i in wide}
    known = set(ids)
    candidates = wide + [f for f in set(forms.values()) if f.isascii() and f in known]
    seen: dict[str, str] = {}
    clash: set[str] = set()
    for i in candidates:
        f = forms.get(i, i)
        if f in seen and seen[f] != i:
            clash.update((i, seen[f]))
        seen.setdefault(f, i)
    return clash


def _check_unicode_forms(path: Path, names: np.ndarray, codes: np.ndarray, m: int) -> None:
    """Refuse site ids (``names``, the ties' ends ``codes``: ``m`` sources, then the targets) that
    differ only in their Unicode form."""
    clash = unicode_clashes(names.tolist())
    if clash:
        bad = np.isin(names, list(clash))[codes]
        rows = bad[:m] | bad[m:]
        raise fail(str(path), "source/target", f"site ids that differ only in their Unicode form (the same letters "
                                               f"written with composed and decomposed accents), on {_lines(rows)}: "
                                               "they would be two sites; write them the same way")


def _read_graphml(path: Path):
    import io
    import xml.etree.ElementTree as ET

    import networkx as nx

    data = read_capped(path, limits.MAX_TABLE_BYTES, "GraphML file")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise fail(str(path), "", "GraphML with a DOCTYPE or ENTITY declaration is not accepted")
    try:
        G = nx.read_graphml(io.BytesIO(data))
    except ET.ParseError as err:
        line, col = getattr(err, "position", (None, None))
        raise fail(str(path), "", "cannot read as GraphML: the XML is not well-formed", line=line,
                   column=col + 1 if col is not None else None) from None
    except Exception:  # networkx raises many error types for XML that is not GraphML
        raise fail(str(path), "", "cannot read as GraphML (not a GraphML document, or attributes of an "
                                  "unknown type)") from None
    nodes = [str(v) for v in G.nodes]
    src, dst, w = [], [], []
    for k, (a, b, attrs) in enumerate(G.edges(data=True), start=1):
        try:
            weight = float(attrs.get("weight", 1.0))
        except (TypeError, ValueError, OverflowError):
            raise fail(str(path), "weight", f"edge {k} (in file order): weight is not a number") from None
        if not math.isfinite(weight):
            raise fail(str(path), "weight", f"edge {k} (in file order): weight is not a finite number")
        if weight < 0:
            raise fail(str(path), "weight", f"edge {k} (in file order): negative weight")
        if weight > limits.MAX_FLOAT:
            raise fail(str(path), "weight", f"edge {k} (in file order): weight above {limits.MAX_FLOAT:g}")
        src.append(str(a))
        dst.append(str(b))
        w.append(weight)
    return (np.array(src, dtype=object), np.array(dst, dtype=object), np.array(w, float), nodes,
            np.arange(1, len(src) + 1))
