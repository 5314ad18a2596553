"""Networks: generators (seeded, right shape) and loaders (every malformed input refused clearly)."""

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation import InputError, load_scenario, run
from simulation.network import random_graph, small_world
from simulation.scenario import from_dict

from .conftest import write


def scenario(tmp_path, text):
    return load_scenario(write(tmp_path / "s.yaml", text))


def test_small_world_shape_and_seed():
    W = small_world(2000, 6, 0.1, np.random.default_rng(1))
    deg = np.asarray(W.sum(axis=1)).ravel()
    assert (W != W.T).nnz == 0 and W.diagonal().sum() == 0
    assert abs(deg.mean() - 6) < 0.05
    assert (small_world(2000, 6, 0.1, np.random.default_rng(1)) != W).nnz == 0
    assert (small_world(2000, 6, 0.1, np.random.default_rng(2)) != W).nnz > 0
    lattice = small_world(100, 4, 0.0, np.random.default_rng(1))
    G = nx.from_scipy_sparse_array(lattice)
    assert nx.average_clustering(G) == pytest.approx(0.5)  # ring lattice k=4: 3(k-2)/(4(k-1))


def test_random_graph_mean_degree():
    W = random_graph(5000, 4, np.random.default_rng(3))
    assert abs(W.sum() / 5000 - 4) < 0.15  # sd of the mean degree ~ sqrt(2*4/5000)


@pytest.mark.parametrize("kind", ["small_world", "scale_free", "random", "regions", "complete", "none"])
def test_every_generated_type_runs(kind):
    extra = {"small_world": {"k": 4}, "scale_free": {"m": 2}}.get(kind, {})
    sc = from_dict({"sites": {"n": 60}, "months": 12, "network": {"type": kind, **extra}})
    res = run(sc, seed=1)
    assert len(res.sites) == 60
    if kind == "regions":
        assert res.sites["group"].nunique() == 4


def test_edge_list_with_site_table_and_isolated_sites(tmp_path):
    write(tmp_path / "edges.csv", "source,target,weight\na,b,1\nb,c,2.5\n")
    write(tmp_path / "sites.csv", "site,capacity,group\na,0.2,x\nb,0.9,y\nc,,x\nd,0.5,y\n")
    sc = scenario(tmp_path, "months: 12\nnetwork: {type: file, file: edges.csv}\nsites: {file: sites.csv}\nstrategy:\n  seeding: {sites: [a]}\n")
    res = run(sc, seed=1)
    s = res.sites.set_index("site")
    assert list(s.index) == ["a", "b", "c", "d"]
    assert s.loc["a", "capacity"] == 0.2 and s.loc["b", "capacity"] == 0.9 and 0 <= s.loc["c", "capacity"] <= 1
    assert s.loc["d", "degree"] == 0 and s.loc["b", "degree"] == 3.5
    assert s.loc["a", "adopted_month"] == 0
    assert {a.site for a in res.model.agents} == {"a", "b", "c", "d"}


@pytest.mark.parametrize("directed", [False, True])
def test_edge_list_ids_mapped_as_written(tmp_path, directed):
    """Ids (spaces around them ignored) map to sites in order of first appearance, sources before
    targets, once self-ties and repeated ties are dropped; the matrix equals networkx's from the
    same ties. Checked against that plain reading on a random list with repeats and self-ties."""
    from simulation.network import build

    rng = np.random.default_rng(5)
    names = [f"s{k}" for k in range(40)] + ["café", " pad ", "x y"]
    rows, seen = [], set()
    for _ in range(150):
        a, b = rng.choice(len(names), 2)
        key = (a, b) if directed else tuple(sorted((a, b)))
        if key in seen:
            continue  # a repeat must carry the same weight: listed below with the first weight
        seen.add(key)
        w = float(rng.integers(1, 4))
        rows.append((names[a], names[b], w))
    rows += [(rows[3][1], rows[3][0], rows[3][2]) if not directed else rows[3], (" s1", "s1 ", 1.0), rows[7]]
    write(tmp_path / "e.csv", "source,target,weight\n" + "".join(f"{a},{b},{w:g}\n" for a, b, w in rows))
    sc = scenario(tmp_path, f"network: {{type: file, file: e.csv, directed: {str(directed).lower()}}}\n")
    with pytest.warns(UserWarning):
        built = build(sc, np.random.default_rng(0))
    G = nx.DiGraph() if directed else nx.Graph()
    kept = []
    for a, b, w in rows:
        a, b = a.strip(), b.strip()
        if a != b and not G.has_edge(a, b):
            G.add_edge(a, b, weight=w)
            kept.append((a, b))
    order = list(dict.fromkeys([a for a, _ in kept] + [b for _, b in kept]))
    assert list(built.ids) == order
    # W[i, j]: the tie through which i is influenced by j (networkx: row = source)
    ref = nx.to_scipy_sparse_array(G, nodelist=order, weight="weight").toarray()
    assert np.array_equal(built.W.toarray(), ref)


def test_graphml(tmp_path):
    G = nx.Graph()
    G.add_nodes_from(["x", "y", "z", "lonely"])
    G.add_edge("x", "y", weight=2.0)
    G.add_edge("y", "z")
    nx.write_graphml(G, tmp_path / "g.graphml")
    sc = scenario(tmp_path, "months: 6\nnetwork: {type: file, file: g.graphml}\nstrategy:\n  seeding: {n: 1}\n")
    res = run(sc, seed=2)
    assert sorted(res.sites["site"]) == ["lonely", "x", "y", "z"]


def test_directed_edges(tmp_path):
    write(tmp_path / "e.csv", "source,target\na,b\n")
    sc = scenario(tmp_path, "months: 2\nnetwork: {type: file, file: e.csv, directed: true}\nstrategy: {seeding: {n: 0}}\n")
    m = run(sc, seed=1).model
    assert m.W[0, 1] == 1 and m.W[1, 0] == 0


NETWORK_ERRORS = {
    "missing columns": ("from,to\na,b\n", None, "needs columns 'source' and 'target'"),
    "unparsable weight": ("source,target,weight\na,b,heavy\n", None, "weight: not a number on line 2"),
    "negative weight": ("source,target,weight\na,b,-1\n", None, "weight: negative weight on line 2"),
    "empty id": ("source,target\na,\n", None, "empty site id"),
    "unknown site": ("source,target\na,zz\n", "site\na\nb\n", "edges on line 2 name sites absent from the site table"),
    "duplicate ids": ("source,target\na,b\n", "site\na\nb\na\n", "site: the same site id appears more than once, on lines 2, 4"),
    "bad trait": ("source,target\na,b\n", "site,capacity\na,2\nb,0.1\n", "capacity: values must lie in [0, 1]"),
    "trait not number": ("source,target\na,b\n", "site,fit\na,good\nb,0.1\n", "fit: not a number"),
    "no site column": ("source,target\na,b\n", "name,fit\na,0.1\n", "needs a 'site' column"),
    # a dropped self-tie or repeated tie must not shift the lines named (it raised an IndexError once)
    "unknown site after a self-tie": ("source,target\na,a\nb,zz\n", "site\na\nb\n",
                                      "edges on line 3 name sites absent from the site table"),
    "unknown site after a repeated tie": ("source,target\na,b\nb,a\nzz,a\n", "site\na\nb\n",
                                          "edges on line 4 name sites absent from the site table"),
    "ragged row, CRLF": ("source,target\r\na,b\r\nc,d,e\r\n", None, "line 3 has 3 fields but the header has 2"),
    "ragged row, quoted": ('source,target\n"a",b\nc,d,e\n', None, "line 3 has 3 fields but the header has 2"),
    "ragged row, no final line break": ("source,target\na,b\n\nc,d,e", None, "line 4 has 3 fields but the header has 2"),
}


@pytest.mark.parametrize("case", list(NETWORK_ERRORS))
def test_malformed_network_inputs(tmp_path, case):
    edges, sites, expected = NETWORK_ERRORS[case]
    write(tmp_path / "e.csv", edges)
    text = "network: {type: file, file: e.csv}\n"
    if sites:
        write(tmp_path / "t.csv", sites)
        text += "sites: {file: t.csv}\n"
    sc = scenario(tmp_path, text)
    with pytest.raises(InputError) as exc:
        run(sc, seed=1)
    assert expected in str(exc.value)
    assert ("e.csv" in str(exc.value)) or ("t.csv" in str(exc.value))


def test_missing_network_file(tmp_path):
    sc = scenario(tmp_path, "network: {type: file, file: nowhere.csv}\n")
    with pytest.raises(InputError, match="nowhere.csv: file not found"):
        run(sc, seed=1)


def test_no_edges_is_valid(tmp_path):
    write(tmp_path / "e.csv", "source,target\n")
    write(tmp_path / "t.csv", "site\n1\n2\n3\n")
    sc = scenario(tmp_path, "months: 5\nnetwork: {type: file, file: e.csv}\nsites: {file: t.csv}\nstrategy: {seeding: {n: 1}}\n")
    assert len(run(sc, seed=1).sites) == 3


@given(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 7.25, 40.0]), min_size=1, max_size=80))
@settings(max_examples=300, deadline=None)
def test_average_rank_matches_scipy_rankdata(values):
    """Prestige percentiles use a numpy rank with ties averaged: it must equal scipy's exactly
    (the batch-identity of every run rests on the same floats)."""
    from scipy.stats import rankdata

    from simulation.traits import average_rank

    x = np.array(values)
    assert np.array_equal(average_rank(x), rankdata(x, method="average"))
