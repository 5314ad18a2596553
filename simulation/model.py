"""The spread-and-scale-up model: sites on a network moving through implementation stages.

State lives in numpy arrays owned by :class:`SpreadModel`; every rule is a vectorised operation
over all sites, and neighbour influence is one sparse matrix product per month. The Mesa agents
(:class:`Site`) are the sites' faces for users, inspection and visualisation: their attributes
read from and write to the model's arrays.

One month (``step``) runs these phases, in this order (docs/ODD.md, "Process overview and scheduling"):

1. ``support``     the programme allocates its support capacity, trainers and collaboratives;
                   funding may end;
2. ``forces``      turnover (competence, champions, fall-back), learning, fidelity drift, support
                   and coaching, adaptation, assurance rounds, change fatigue;
3. ``neighbours``  one sparse product gives each site its neighbours' adoption and adaptation;
4. ``pressures``   each logic that is on returns engage/progress/abandon pressures; shocks add
                   theirs; pressures are combined;
5. ``transitions`` every site moves at most one stage, all from the state at the start of the
                   month (synchronous);
6. ``collect``     the month's outputs are recorded.
"""

from __future__ import annotations

import mesa
import numpy as np
import scipy.sparse as sp

from . import logics
from .errors import fail
from .logics import ecological, mechanical, social
from .network import Built, build
from .rng import Streams
from .scenario import Scenario
from .traits import site_traits

STAGES = ("not_engaged", "exploration", "installation", "initial", "full", "declined", "discontinued")
NOT_ENGAGED, EXPLORATION, INSTALLATION, INITIAL, FULL, DECLINED, DISCONTINUED = range(7)
TRAITS = ("capacity", "leadership", "champions", "turnover", "fit", "size", "threshold", "prestige")
SERIES = ("adopted", "adopted_share", "reach", "mean_fidelity", "benefit", "support_used", "supported", "trainers")


class Site(mesa.Agent):
    """One site (school, practice, ICU...): a view onto its row of the model's arrays.

    Attributes:
        index: the site's row in the model's arrays.
        site: the site's id as given in the network or site file (0..n-1 for generated networks).
    """

    def __init__(self, model: "SpreadModel", index: int, site):
        super().__init__(model)
        self.index = index
        self.site = site

    @property
    def stage(self) -> str:
        return STAGES[self.model.stage[self.index]]

    @property
    def group(self):
        return self.model.group[self.index]

    @property
    def adopted(self) -> bool:
        return bool(self.model.stage[self.index] in (INITIAL, FULL))

    @property
    def neighbours(self) -> list["Site"]:
        W = self.model.W
        cols = W.indices[W.indptr[self.index]:W.indptr[self.index + 1]]
        return [self.model.sites[j] for j in cols]

    def __getattr__(self, name):
        # traits and state arrays read as attributes: site.capacity, site.fidelity, ...
        model = self.__dict__.get("model")
        if model is not None and name in SpreadModel.SITE_ARRAYS:
            return getattr(model, name)[self.index].item()
        raise AttributeError(name)

    def __repr__(self) -> str:
        return f"Site({self.site!r}, stage={self.stage})"


def _clip01(x: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] in place (the ufuncs directly: ``np.clip`` costs microseconds of wrappers)."""
    np.minimum(x, 1.0, out=x)
    return np.maximum(x, 0.0, out=x)


def _nonzero(mask: np.ndarray) -> np.ndarray:
    """Indices where a 1-d mask is true (``np.flatnonzero`` without its wrapper overhead)."""
    return mask.nonzero()[0]


class SpreadModel(mesa.Model):
    """Spread and scale-up of an innovation across sites on a network.

    Args:
        scenario: a validated :class:`~simulation.scenario.Scenario`.
        seed: the run's seed; decides the run completely (named streams, see :mod:`simulation.rng`).
            A list of seeds runs one *block* of sites per seed, side by side in the same arrays
            (a batch of replicates): block ``b`` evolves exactly as a run with ``seed[b]`` alone.
        agents: create one Mesa :class:`Site` agent per site (set False for bare array runs;
            batches never create agents).
        built: sites and ties made beforehand (to share a network across runs); built from the
            scenario with each block's ``network`` stream when not given.

    Raises:
        InputError: for inputs that only show as wrong once the sites are known (seeding more sites
            than exist, listed seed ids that are not sites, an unknown seeding group).
    """

    SITE_ARRAYS = TRAITS + ("fidelity", "competence", "adaptation", "fatigue", "months_in_stage",
                            "supported", "trainer", "adopted_month", "fit_eff")

    def __init__(self, scenario: Scenario, seed: int | list[int] | None = None, *, agents: bool = True,
                 built: Built | None = None):
        seeds = [scenario.seed] if seed is None else ([int(s) for s in seed] if isinstance(seed, (list, tuple, np.ndarray)) else [int(seed)])
        if not seeds:
            raise ValueError("at least one seed is needed")
        self.seeds = seeds
        self.seed = seeds[0]
        self._block_streams = [Streams(s) for s in seeds]
        self.streams = self._block_streams[0]
        super().__init__(rng=self.streams["mesa"])
        self.scenario_obj = sc = scenario
        self.months = sc.months
        self.month = 0
        builts = [built or build(sc, st["network"]) for st in self._block_streams]
        self.ids = builts[0].ids
        self.R = R = len(seeds)
        self.N = N = len(self.ids)
        self.n = n = R * N
        self.block = np.repeat(np.arange(R), N)
        self._set_network(builts[0].W if R == 1 else sp.block_diag([b.W for b in builts], format="csr"))
        per_block = [site_traits(sc, b, st) for b, st in zip(builts, self._block_streams)]
        for name in TRAITS:
            setattr(self, name, np.concatenate([t[name] for t, _ in per_block]))
        self.group = np.concatenate([g for _, g in per_block])
        self.champions = self.champions.astype(np.int32)
        self.monthly_turnover = 1.0 - (1.0 - self.turnover) ** (1.0 / 12.0)
        self._learning_gain = sc.forces.learning * (0.5 + 0.5 * self.capacity)
        self._log_stay = np.log1p(-np.minimum(self.monthly_turnover, 1.0 - 1e-12))
        self.adaptive_capability = (self.capacity + self.leadership) / 3.0  # + adaptation/3, kept current

        # state
        self.stage = np.zeros(n, np.int8)
        self.months_in_stage = np.zeros(n, np.int32)
        self.fidelity = np.zeros(n)
        self.competence = np.zeros(n)
        self.adaptation = np.zeros(n)
        self.fatigue = np.zeros(n)
        self.fit_eff = self.fit.copy()
        self._misfit = 1.0 - self.fit
        self.supported = np.zeros(n, bool)
        self.ever_supported = np.zeros(n, bool)
        self.invited = np.zeros(n, bool)
        self.trainer = np.zeros(n, bool)
        self.member = np.zeros(n, bool)
        self.adopted_month = np.full(n, -1, np.int32)
        self.support_used_b = np.zeros(R)
        self.adopted_share_b = np.zeros(R)
        self.share_site = np.zeros(n)
        self.funded = True
        self.nb_share = np.zeros(n)
        self.nb_prestige = np.zeros(n)
        self.nb_adaptation = np.zeros(n)
        self._eco_on = sc.logics.ecological.enabled
        self._mech_on = sc.logics.mechanical.enabled
        self._soc_on = sc.logics.social.enabled
        self.fatigue_target = np.minimum(
            1.0, sc.forces.concurrent_initiatives * sc.forces.fatigue_per_initiative * (1.5 - 0.5 * self.capacity))

        self._priority(sc)
        self._seed_sites(sc)
        self._gens = {name: [st[name] for st in self._block_streams] for name in ("turnover", "transitions", "shocks")}
        self._min_months = np.array([0, sc.stages.exploration, sc.stages.installation, sc.stages.initial, 0, 0, 0])

        # outputs, per block
        T = self.months + 1
        self.counts_b = np.zeros((R, T, len(STAGES)), np.int64)
        self.series_b = {k: np.zeros((R, T)) for k in SERIES}
        self.counts = self.counts_b[0]
        self.series = {k: v[0] for k, v in self.series_b.items()}
        self._block7 = self.block * len(STAGES)
        self.group_labels, self.group_index = np.unique(self.group.astype(str), return_inverse=True)
        self.sustain = self._sustain_plan(sc)
        self._full_at_ref: np.ndarray | None = None
        self.sustainment_b = np.full(R, np.nan)
        self._collect()

        self.sites: list[Site] = []
        if agents and R == 1:
            self.sites = [Site(self, i, s) for i, s in enumerate(self.ids.tolist())]

    # ----------------------------------------------------------------------------- block helpers
    def _per_block(self, mask: np.ndarray) -> np.ndarray:
        """Number of true entries of a site mask in each block."""
        if self.R == 1:  # count_nonzero along an axis is ten times slower than over a flat array
            return np.array([np.count_nonzero(mask)])
        return np.count_nonzero(mask.reshape(self.R, self.N), axis=1)

    def _top_k(self, mask: np.ndarray, k) -> np.ndarray:
        """Indices of at most ``k`` sites per block (``k`` a number or one per block) in ``mask``,
        those with the best (lowest) priority rank."""
        order = self._order
        m = mask[order].reshape(self.R, self.N)
        chosen = m & (np.cumsum(m, axis=1) <= np.reshape(k, (-1, 1)))
        return order[chosen.ravel()]

    def _draw(self, name: str, rows: int = 0) -> np.ndarray:
        """Uniform draws for every site from each block's own stream ``name`` (``rows`` > 0: that many rows)."""
        gens = self._gens[name]
        shape = (rows, self.N) if rows else self.N
        if self.R == 1:
            return gens[0].random(shape)
        out = np.empty((rows, self.n) if rows else self.n)
        for b, g in enumerate(gens):
            out[..., b * self.N:(b + 1) * self.N] = g.random(shape)
        return out

    # ----------------------------------------------------------------------------- set-up helpers
    def _set_network(self, W: sp.csr_array) -> None:
        W = sp.csr_array(W, dtype=float)
        W.sum_duplicates()  # canonical: sorted columns, so each row sums in the same order in any batch
        self.W = W
        self.degree = np.asarray(self.W.sum(axis=1)).ravel()
        self.has_ties = self.degree > 0
        self._inv_degree = np.divide(1.0, self.degree, out=np.zeros(self.n), where=self.has_ties)
        self._inv_prestige_degree = None
        # transpose for sending changes along ties (W is symmetric unless the network is directed)
        self._WT = self.W if (self.W != self.W.T).nnz == 0 else sp.csr_array(self.W.T)
        self._min_weight = float(self.W.data.min()) if self.W.nnz else 1.0
        # incremental neighbour counts are exact (whatever the order of updates) for whole-number weights
        self._exact_weights = bool(np.all(self.W.data == np.round(self.W.data)))
        self._prev_adopted = None

    def _priority(self, sc: Scenario) -> None:
        """Order in which the programme seeds and invites sites (the seeding rule); ties broken at random."""
        rule = sc.strategy.seeding.rule
        N = self.N
        listed = self._listed_seeds(sc)
        self.rank = np.empty(self.n, np.int64)
        self._order = np.empty(self.n, np.int64)
        for b in range(self.R):
            sl = slice(b * N, (b + 1) * N)
            tie = self._block_streams[b]["seeding"].random(N)
            if rule == "most_ready":
                score = (self.capacity[sl] + self.leadership[sl] + self.fit[sl]) / 3.0
            elif rule == "most_central":
                score = self.degree[sl].astype(float)
            elif rule == "opinion_leaders":
                score = self.prestige[sl]
            elif rule == "by_group":
                g = sc.strategy.seeding.group
                groups = set(self.group[sl].tolist())
                if g is None or g not in groups:
                    raise fail(sc.source, "strategy.seeding.group",
                               f"by_group needs a group that exists; groups are: {', '.join(sorted(map(str, groups)))}")
                score = (self.group[sl] == g).astype(float)
            else:
                score = np.zeros(N)
            if len(listed):
                score = score.copy()
                score[listed] = np.inf  # listed sites first, in the order given (via tie below)
                tie[listed] = -1.0 + np.arange(len(listed)) / (len(listed) + 1)
            order = np.lexsort((tie, -score))
            self.rank[b * N + order] = np.arange(N)
            self._order[sl] = b * N + order
        w = sc.strategy.waves
        self.eligible_from = (self.rank // w.size) * w.every if w.every > 0 else np.zeros(self.n, np.int64)

    def _listed_seeds(self, sc: Scenario) -> np.ndarray:
        listed = sc.strategy.seeding.sites
        if not listed:
            return np.zeros(0, np.int64)
        lookup = {str(s): i for i, s in enumerate(self.ids.tolist())}
        missing = [str(s) for s in listed if str(s) not in lookup]
        if missing:
            raise fail(sc.source, "strategy.seeding.sites", f"not sites of this network: {', '.join(missing[:5])}")
        idx = [lookup[str(s)] for s in listed]
        if len(set(idx)) != len(idx):
            raise fail(sc.source, "strategy.seeding.sites", "a site is listed twice")
        return np.array(idx, np.int64)

    def _seed_sites(self, sc: Scenario) -> None:
        seeding = sc.strategy.seeding
        k = len(seeding.sites) if seeding.sites else seeding.n
        if k > self.N:
            raise fail(sc.source, "strategy.seeding.n", f"cannot seed {k} sites: the network has {self.N}")
        seeds = self._order.reshape(self.R, self.N)[:, :k].ravel()
        stage = {"exploration": EXPLORATION, "installation": INSTALLATION, "initial": INITIAL, "full": FULL}[seeding.stage]
        if sc.pipeline == "instant":
            stage = FULL
        self.stage[seeds] = stage
        self.fidelity[seeds] = 0.9
        self.competence[seeds] = 0.8 if stage >= INITIAL else 0.2
        if stage >= INITIAL:
            self.adopted_month[seeds] = 0
        self.adopted_share_b = self._per_block(self.adopted) / self.N

    def _sustain_plan(self, sc: Scenario) -> tuple[int, int] | None:
        """(reference month, measurement month) for sustainment: from the end of support, else months - window."""
        window = sc.outputs.sustain_window
        f = sc.strategy.support.funding_months
        ref = f if (f is not None and f + window <= self.months) else self.months - window
        return (ref, ref + window) if ref >= 0 else None

    # ---------------------------------------------------------------------------------- properties
    @property
    def using(self) -> np.ndarray:
        """Sites delivering the innovation in some form (installation, initial or full)."""
        return (self.stage >= INSTALLATION) & (self.stage <= FULL)

    def _using_now(self) -> np.ndarray:
        """``using`` for the current month, computed once per phase that needs it."""
        self._using = self.using
        return self._using

    @property
    def adopted(self) -> np.ndarray:
        """Sites that have adopted: in initial or full implementation."""
        return (self.stage == INITIAL) | (self.stage == FULL)

    @property
    def adopted_share(self) -> float:
        """Share of sites adopted (the first block's, in a batch)."""
        return float(self.adopted_share_b[0])

    @property
    def support_used(self) -> float:
        """Support units used so far (the first block's, in a batch)."""
        return float(self.support_used_b[0])

    @property
    def sustainment(self) -> float:
        """Sustainment (see :func:`simulation.runner.summarise`; the first block's, in a batch)."""
        return float(self.sustainment_b[0])

    # ----------------------------------------------------------------------------------- the step
    def step(self) -> None:
        """One month: support, forces, neighbours, pressures, transitions, collect."""
        if self.month >= self.months:
            self.running = False
            return
        self.month += 1
        sc = self.scenario_obj
        self._phase_support(sc)
        self._phase_forces(sc)
        self._phase_neighbours(sc)
        engage, progress, abandon = self._phase_pressures(sc)
        self._phase_transitions(sc, engage, progress, abandon)
        self._collect()
        if self.month >= self.months:
            self.running = False

    def run_model(self) -> "SpreadModel":
        """Run to the scenario's horizon; returns the model so calls chain."""
        while self.month < self.months:
            self.step()
        return self

    # --- phase 1
    def _phase_support(self, sc: Scenario) -> None:
        """Support capacity, funding end, train-the-trainer, collaboratives (source 001-004)."""
        st = sc.strategy
        month = self.month
        f = st.support.funding_months
        self.funded = f is None or month <= f
        if st.collaborative.enabled and month == st.collaborative.start:
            self._form_collaboratives(sc)
        if not self._mech_on:
            return
        pipeline = (self.stage >= EXPLORATION) & (self.stage <= INITIAL)
        ttt = st.train_the_trainer
        if ttt.enabled:
            cand = (self.stage == FULL) & (self.months_in_stage >= ttt.after) & (self.competence >= 0.5)
            cap = self.N if ttt.max_trainers is None else ttt.max_trainers
            self.trainer[:] = False
            self.trainer[self._top_k(cand, cap)] = True
        if ttt.enabled and (self.funded or ttt.after_funding):
            trainer_slots = ttt.trainees * self._per_block(self.trainer)
        else:
            trainer_slots = np.zeros(self.R, np.int64)
        base = st.support.capacity
        eligible = self.eligible_from <= month
        reentry = (self.stage >= DECLINED) & (self.months_in_stage >= sc.forces.reentry_delay)
        candidates = ((self.stage == NOT_ENGAGED) | reentry) & eligible
        self.supported &= pipeline
        if base is None and self.funded:
            self.supported |= pipeline
            self.invited = candidates
        else:
            cap = (base if self.funded else 0) + trainer_slots
            if (self._per_block(self.supported) > cap).any():
                keep = self._top_k(self.supported, cap)
                self.supported[:] = False
                self.supported[keep] = True
            free = cap - self._per_block(self.supported)
            if (free > 0).any():
                self.supported[self._top_k(pipeline & ~self.supported, np.maximum(free, 0))] = True
                free = cap - self._per_block(self.supported)
            self.invited = np.zeros(self.n, bool)
            if (free > 0).any():
                self.invited[self._top_k(candidates, np.maximum(free, 0))] = True
        self.ever_supported |= self.supported
        self.support_used_b += st.support.cost * self._per_block(self.supported)

    def _form_collaboratives(self, sc: Scenario) -> None:
        """Breakthrough collaboratives: cohorts get lateral ties to each other (source 003)."""
        col = sc.strategy.collaborative
        src, dst = [], []
        for b in range(self.R):
            rng = self._block_streams[b]["collaborative"]
            lo = b * self.N
            if col.members == "all":
                members = np.arange(self.N)
            else:
                stage = self.stage[lo:lo + self.N]
                members = _nonzero((stage >= EXPLORATION) & (stage <= FULL))
            members = rng.permutation(members) + lo
            self.member[members] = True
            cohort = np.arange(len(members)) // col.size
            for c in range(int(cohort.max()) + 1 if len(members) else 0):
                ids = members[cohort == c]
                if len(ids) < 2:
                    continue
                a, bb = np.meshgrid(ids, ids)
                keep = a != bb
                src.append(a[keep])
                dst.append(bb[keep])
        if src:
            C = sp.csr_array((np.ones(sum(len(s) for s in src)), (np.concatenate(src), np.concatenate(dst))), shape=(self.n, self.n))
            C.data[:] = 1.0
            self._set_network(self.W.maximum(C))

    # --- phase 2
    def _phase_forces(self, sc: Scenario) -> None:
        """Turnover, champions, learning, drift, coaching, adaptation, assurance, fatigue (sources 001, 002)."""
        fo = sc.forces
        st = sc.strategy
        pkg = st.replication_package
        if fo.turnover:
            u = self._draw("turnover", rows=2)
            m = self.monthly_turnover
            # competence walks out with leavers; the replication package onboards their successors
            self.competence *= 1.0 - m * (1.0 - pkg)
            has = self.champions > 0
            lose = has & (u[0] < -np.expm1(self.champions * self._log_stay))
            self.champions[lose] -= 1
            last = lose & (self.champions == 0) & (self.stage >= INITIAL) & (self.stage <= FULL)
            back = last & (u[1] < fo.fallback * (1.0 - pkg))
            if back.any() and sc.pipeline == "staged":  # an instant pipeline has no stage to fall back to
                self.stage[back] -= 1  # full -> initial, initial -> installation
                self.months_in_stage[back] = 0
            recruit = ~has & (u[1] < fo.champion_recruit * self.leadership)
            self.champions[recruit] = 1
        uf = self._using_now().astype(np.float64)
        c = self.competence
        # learning by doing (and in collaboratives)
        gain = self._learning_gain
        if sc.strategy.collaborative.enabled and self.month >= st.collaborative.start:
            gain = gain + st.collaborative.learning * self.member
            members_active = self.member & (self.stage >= EXPLORATION) & (self.stage <= FULL)
            self.support_used_b += st.collaborative.cost * self._per_block(members_active)
        c += gain * (1.0 - c) * uf
        # fidelity drifts down, the less so the more competent the site (source 002)
        if fo.drift > 0:
            self.fidelity -= self.fidelity * (fo.drift - 0.5 * fo.drift * c) * uf
        if self._mech_on:
            mechanical.update(self, sc.logics.mechanical)
        if self._eco_on:
            ecological.update(self, sc.logics.ecological, st.adaptation)
            self.adaptive_capability = (self.capacity + self.leadership + self.adaptation) / 3.0
        a = st.assurance
        if a.interval > 0 and self.month % a.interval == 0:
            audited = (self.stage >= INITIAL) & (self.stage <= FULL)
            self.fidelity += a.repair * np.maximum(a.target - self.fidelity, 0.0) * audited
            self.support_used_b += a.cost * self._per_block(audited)
        for x in (self.fidelity, self.competence):
            _clip01(x)
        if fo.concurrent_initiatives > 0 or self.fatigue.any():
            self.fatigue += 0.1 * (self.fatigue_target - self.fatigue)

    # --- phase 3
    def _phase_neighbours(self, sc: Scenario) -> None:
        """Neighbours' adoption (plain and prestige-weighted) and adaptation.

        With whole-number tie weights, ``W @ adopted`` is kept up to date incrementally: only the
        sites whose adoption changed this month send their change along their ties (O(changes x
        degree) instead of O(ties)); the sums are exact, so the result does not depend on the path.
        Weighted sums with fractions (prestige, adaptation, fractional weights) are taken in full,
        so that a site's sums never depend on what else is in the run (batches stay bit-identical).
        """
        adopted = self.adopted
        self.adopted_share_b = self._per_block(adopted) / self.N
        self.share_site = np.repeat(self.adopted_share_b, self.N) if self.R > 1 else np.full(1, self.adopted_share_b[0])
        if self.W.nnz == 0:
            return
        want_prestige = self._soc_on and sc.logics.social.rule == "influence"
        want_adapt = self._eco_on and sc.strategy.adaptation != "strict"
        prev = self._prev_adopted
        J = None if (prev is None or not self._exact_weights) else _nonzero(adopted != prev)
        if J is None or len(J) > self.n // 50:
            self._nb_count = self.W @ adopted.astype(np.float64)
        elif len(J):
            WT = self._WT
            start, stop = WT.indptr[J], WT.indptr[J + 1]
            lengths = stop - start
            pos = np.repeat(start - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
            contrib = WT.data[pos] * np.repeat(np.where(adopted[J], 1.0, -1.0), lengths)
            self._nb_count += np.bincount(WT.indices[pos], weights=contrib, minlength=self.n)
        self._prev_adopted = adopted
        self.nb_share = self._nb_count * self._inv_degree
        if want_prestige:
            if self._inv_prestige_degree is None:
                pd_ = self.W @ self.prestige
                self._inv_prestige_degree = np.divide(1.0, pd_, out=np.zeros(self.n), where=pd_ > 0)
            self.nb_prestige = (self.W @ (adopted * self.prestige)) * self._inv_prestige_degree
        if want_adapt:
            total = self.W @ (adopted * self.adaptation)
            self.nb_adaptation = np.divide(total, self._nb_count, out=np.zeros(self.n), where=self._nb_count > 0.5 * self._min_weight)

    # --- phase 4
    def _phase_pressures(self, sc: Scenario):
        """Each logic's pressures plus the site's own forces and shocks, combined (MODEL.md)."""
        lg = sc.logics
        fo = sc.forces
        parts = []
        if self._mech_on:
            parts.append(mechanical.pressures(self, lg.mechanical))
        if self._eco_on:
            parts.append(ecological.pressures(self, lg.ecological))
        if self._soc_on:
            parts.append(social.pressures(self, lg.social))
        # the site's own capacity moves it on; internal risks push it out (NASSS, source 003)
        own_progress = fo.progress * self.capacity if fo.progress > 0 else None
        own_abandon = None
        if fo.abandon > 0:
            # drifted delivery gives weaker results, which wear a site's commitment down (source 002)
            risk = ((1.0 - self.fit_eff) + (1.0 - self.competence) + self.fatigue + (1.0 - self.fidelity) * self._using) / 4.0
            own_abandon = fo.abandon * risk
        parts.append(logics.Pressures(None, own_progress, own_abandon))
        shock = self._shock(sc)
        if shock is not None:
            parts.append(logics.Pressures(None, None, shock * (1.0 - self.adaptive_capability)))
        rule = lg.combine
        engage = logics.combine([p.engage for p in parts if p.engage is not None], rule, self.n)
        progress = logics.combine([p.progress for p in parts if p.progress is not None], rule, self.n)
        abandon = logics.combine([p.abandon for p in parts if p.abandon is not None], rule, self.n)
        if fo.no_champion_risk != 1.0:
            # no one locally to carry the work: every pressure to abandon weighs more (NSPCC, source 001)
            abandon = np.minimum(abandon * np.where(self.champions > 0, 1.0, fo.no_champion_risk), 1.0)
        return engage, progress, abandon

    def _shock(self, sc: Scenario) -> np.ndarray | None:
        """System-wide shocks this month (funding cut, policy change): severity per site, or None."""
        sh = sc.shocks
        listed = self.month in sh.months
        sev = np.array([sh.severity if (listed or g.random() < sh.rate) else 0.0 for g in self._gens["shocks"]])
        if not sev.any():
            return None
        return np.repeat(sev, self.N)

    # --- phase 5
    def _phase_transitions(self, sc: Scenario, engage, progress, abandon) -> None:
        """Every site moves at most one stage, decided from the state at the start of the month.

        One uniform draw per site decides: engagement for sites outside the pipeline; for sites in
        it, abandonment or moving on as competing risks (abandon if ``u < a``, move on if
        ``a <= u < a + p``, both scaled down when ``a + p > 1``).
        """
        u = self._draw("transitions")
        st = self.stage
        mis = self.months_in_stage
        fo = sc.forces
        instant = sc.pipeline == "instant"
        moved = []  # (indices, new stage)
        # engagement (first time, or re-entry after declining/discontinuing)
        go = (st == NOT_ENGAGED) & (u < engage)
        if fo.reentry > 0:
            go |= (st >= DECLINED) & (mis >= fo.reentry_delay) & (u < engage * fo.reentry)
        go_idx = _nonzero(go)
        moved.append((go_idx, FULL if instant else EXPLORATION))
        # in the pipeline: abandon or move on (competing risks, one draw)
        pipe = _nonzero((st >= EXPLORATION) & (st <= INITIAL))
        if len(pipe):
            s_ = st[pipe]
            ready = mis[pipe] >= self._min_months[s_]
            ready &= (s_ != INITIAL) | (self.competence[pipe] >= sc.stages.competence_for_full)
            p = progress[pipe] * ready
            a = abandon[pipe]
            total = a + p
            over = total > 1.0
            if over.any():
                a = np.where(over, a / total, a)
                p = np.where(over, p / total, p)
            uu = u[pipe]
            quit_ = uu < a
            move = ~quit_ & (uu < a + p)
            moved.append((pipe[quit_], np.where(s_[quit_] <= INSTALLATION, DECLINED, DISCONTINUED)))
            moved.append((pipe[move], s_[move] + 1))
        full = _nonzero(st == FULL)
        if len(full):
            moved.append((full[u[full] < abandon[full]], DISCONTINUED))
        changed = np.concatenate([m[0] for m in moved])
        if len(changed):
            for idx, dest in moved:
                st[idx] = dest
            entered = go_idx if instant else changed[st[changed] == EXPLORATION]
            self.fidelity[entered] = 0.5 + 0.4 * sc.strategy.replication_package
            self.adaptation[entered] = 0.0
            first = changed[(st[changed] >= INITIAL) & (st[changed] <= FULL) & (self.adopted_month[changed] < 0)]
            self.adopted_month[first] = self.month
            mis[changed] = -1
        mis += 1

    # --- phase 6
    def _collect(self) -> None:
        t = self.month
        R, N = self.R, self.N
        stage = self.stage
        keys = stage if R == 1 else self._block7 + stage
        counts = np.bincount(keys, minlength=R * len(STAGES)).reshape(R, len(STAGES))
        self.counts_b[:, t] = counts
        full = stage == FULL
        adopted = counts[:, INITIAL] + counts[:, FULL]
        s = self.series_b
        s["adopted"][:, t] = adopted
        s["adopted_share"][:, t] = adopted / N
        # masked products summed per block (np.sum(where=) is several times slower; BLAS dots
        # start threads): the same code for one block or many, so batches stay bit-identical
        fullf = full.astype(np.float64)
        reached = self.size * fullf
        s["reach"][:, t] = reached.reshape(R, N).sum(axis=1)
        fid = (self.fidelity * ((stage == INITIAL) | full)).reshape(R, N).sum(axis=1)
        s["mean_fidelity"][:, t] = np.divide(fid, adopted, out=np.full(R, np.nan), where=adopted > 0)
        s["benefit"][:, t] = (reached * self.fidelity * self.fit_eff).reshape(R, N).sum(axis=1)
        s["support_used"][:, t] = self.support_used_b
        s["supported"][:, t] = self._per_block(self.supported)
        s["trainers"][:, t] = self._per_block(self.trainer)
        if self.sustain is not None:
            ref, end = self.sustain
            if t == ref:
                self._full_at_ref = full.copy()
            if t == end and self._full_at_ref is not None:
                base = self._per_block(self._full_at_ref)
                kept = self._per_block(full & self._full_at_ref)
                self.sustainment_b = np.divide(kept, base, out=np.full(R, np.nan), where=base > 0)

    # ------------------------------------------------------------------------------------ outputs
    def block_slice(self, block: int = 0) -> slice:
        """The rows of a block's sites in the model's arrays."""
        return slice(block * self.N, (block + 1) * self.N)

    def reach_by_group(self, block: int = 0) -> dict[str, float]:
        """Share of each group's people served by sites in full implementation (for equity)."""
        sl = self.block_slice(block)
        idx = self.group_index[sl]
        k = len(self.group_labels)
        size = self.size[sl]
        total = np.bincount(idx, weights=size, minlength=k)
        reached = np.bincount(idx, weights=size * (self.stage[sl] == FULL), minlength=k)
        present = total > 0
        share = np.divide(reached, total, out=np.zeros_like(reached), where=present)
        return {g: v for g, v, p in zip(self.group_labels.tolist(), share.tolist(), present) if p}
