"""A small 1-D CNN on each candidate's ±2 s window: the fall detector's third member.

    python bench/falls_cnn.py [--full] [--late] [--variants full 20hz] [--seed 1]
        [--members shipped bandlimited cnn]   # cnn:0,1,2: a net per seed, averaged
    python bench/falls_cnn.py --late [--late-net mix|alone|none]  # the late CNN (-2 to +4 s)

The tree pair reads ~20 hand-made features; this member learns its own from the
candidate's internal 25 Hz window (2 s before to 2 s after: 100 samples), with inputs
that do not depend on how the device sits on the wrist (``analytics.falls.cnn_windows``):
log |a| of the internal signal, log of ``held_peak`` (the rate-robust impact height), the
angle of each sample's 0.5-s gravity vector from its mean 2 to 1.2 s before the candidate,
and log(1 + jerk). The net (``make_net``) is three small convolutions, a global max and
mean pool and one linear output (1,417 weights), fitted with PyTorch on one thread, seeded
and deterministic. PyTorch is for the fit only (the ``fit`` extra); the detector scores
the same weights with numpy (``analytics.falls.cnn_scores``). ``bench/fit_falls.py``
fits it with the trees (``SHIPPED_MEMBERS``) and writes it as ``cnn`` in the params.

The evaluation is ``bench/fit_falls.py``'s and ``bench/falls_ensemble.py``'s: the same
trials, candidates, folds (four subject groups unless ``--full``), threshold rule and
training variants; each member alone, the tree pair, then all members averaged, side by
side in one run (``--late``: also the 4-s confirmation). Windows and fits are cached in
/tmp (fits by their training data). Writes nothing.

For the 4-s confirmation the CNN member has a late net (``late`` in its params): the
same net on the window from 2 s before to 4 s after the candidate (``LATE_WIDTH``
samples, ``window_channels(after_s=LATE_S)``), fitted like the late trees on the
as-recorded and 20 Hz candidates with LATE_ROOM_S after them; where the late trees
score, the member is the mean of the late and ±2 s nets (``analytics.falls.cnn_member``).
With ``--late`` the late trio is printed with the ±2 s net alone there first, then as
``--late-net`` sets it (``mix``, shipped; ``alone``, the late net only, measured and left
out: it reads what the late trees read).
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics import falls
from analytics.falls import RATE_HZ, internal_signal
from analytics.signal import magnitude
from bench import falls_ensemble, fit_falls
from bench.falls_eval import SETS, Trial, variant
from bench.falls_rate_check import configure

HALF = round(falls.BEFORE_S * RATE_HZ)  # 50 samples each side
LATE_WIDTH = HALF + round(falls.LATE_S * RATE_HZ)  # the late net's window: -2 to +4 s
CHANNELS = ("log |a|", "log held peak", "turn from before", "log jerk")
EPOCHS = 12
BATCH = 256
SEED = 0
LATE_NETS = ("mix", "alone", "none")  # where the late trees score: what the CNN member is
LATE_NET = "mix"  # --late-net: shipped, the mean of the late and ±2 s nets
LATE_EPOCHS = 48  # --late-epochs: at 12 the late net barely learns (AUC 0.85 on a WEDA fold)


def window_channels(
    acc: np.ndarray, fs: float, after_s: float = falls.AFTER_S
) -> tuple[list[float], np.ndarray]:
    """Candidate times (s), in ``analytics.falls``'s order, and their CNN input windows
    (2 s before to ``after_s`` after each: LATE_S for the late net's)."""
    times = [i / RATE_HZ for i in falls.candidates(magnitude(internal_signal(acc, fs)))]
    return times, falls.cnn_windows(acc, fs, times, after_s).astype(np.float32)


def window_key() -> str:
    """The windows' cache key: how they are computed and the detector they come from."""
    text = inspect.getsource(window_channels) + str(CHANNELS)
    return hashlib.sha1(text.encode() + Path(falls.__file__).read_bytes()).hexdigest()[:10]


def window_table(trials: list[Trial], name: str, late: bool = False) -> fit_falls.Table:
    """Windows of every trial's candidates under variant ``name`` (x: (n, channels, 100);
    ``late``: 150, -2 to +4 s), cached in /tmp by this module's and the detector's source."""
    key = ("late_" if late else "") + window_key()
    cache = Path(f"/tmp/bandhub_falls_cnn_{name}_{key}_{len(trials)}.npz")
    if cache.exists():
        d = np.load(cache)
        return fit_falls.Table(d["x"], d["y"], d["trial"], d["room"])
    xs, ys, owner, room = [], [], [], []
    for k, t in enumerate(trials):
        v = variant(t, name)
        times, wins = window_channels(v.acc, v.fs, falls.LATE_S if late else falls.AFTER_S)
        for s, x in zip(times, wins, strict=True):
            xs.append(x)
            ys.append(bool(v.window and v.window[0] <= s <= v.window[1]))
            owner.append(k)
            room.append((len(v.acc) - 1) / v.fs - s)
    width = LATE_WIDTH if late else 2 * HALF
    table = fit_falls.Table(
        np.array(xs, np.float32).reshape(-1, len(CHANNELS), width),
        np.array(ys, bool),
        np.array(owner, int),
        np.array(room, float),
    )
    np.savez(cache, x=table.x, y=table.y, trial=table.trial, room=table.room)
    return table


def make_net():  # torch is imported lazily: a fit-only dependency
    import torch
    from torch import nn

    class TinyNet(nn.Module):
        """conv(4->8, 5) relu pool2, conv(8->12, 5) relu pool2, conv(12->12, 5) relu,
        global max and mean, linear(24->1)."""

        def __init__(self) -> None:
            super().__init__()
            c = len(CHANNELS)
            self.c1, self.c2 = nn.Conv1d(c, 8, 5), nn.Conv1d(8, 12, 5)
            self.c3 = nn.Conv1d(12, 12, 5)
            self.out = nn.Linear(24, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            f = nn.functional
            x = f.max_pool1d(f.relu(self.c1(x)), 2)
            x = f.max_pool1d(f.relu(self.c2(x)), 2)
            x = f.relu(self.c3(x))
            return self.out(torch.cat([x.amax(2), x.mean(2)], 1)).squeeze(1)

    return TinyNet()


def fit_cnn(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, seed: int | None = None, epochs: int = EPOCHS
) -> dict:
    """Fit the net on windows ``x`` (n, channels, 100), labels ``y``, weights ``w``;
    returns JSON-ready params (channel scaling and every weight as nested lists)."""
    import torch

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    seed = SEED if seed is None else seed
    torch.manual_seed(seed)
    mean = x.mean((0, 2))
    std = x.std((0, 2)) + 1e-6
    xt = torch.tensor((x - mean[None, :, None]) / std[None, :, None], dtype=torch.float32)
    yt = torch.tensor(y, dtype=torch.float32)
    wt = torch.tensor(w / w.mean(), dtype=torch.float32)
    net = make_net()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = epochs * int(np.ceil(len(y) / BATCH))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=gen)
        for b in range(0, len(y), BATCH):
            j = order[b : b + BATCH]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                net(xt[j]), yt[j], weight=wt[j]
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    state = {k: v.detach().numpy().astype(float).tolist() for k, v in net.state_dict().items()}
    return {"kind": "cnn", "mean": mean.tolist(), "std": std.tolist(), "weights": state}


def check_windows(late: bool = False) -> np.ndarray:
    """Fixed windows (16, of noise around plausible levels; ``late``: as long as the late
    net's): the fit stores torch's logits on them as ``torch_check_logits`` (all far from
    a fall, but spread), so a test without torch holds the numpy scorer to them."""
    rng = np.random.default_rng(7)
    n = (16, LATE_WIDTH if late else 2 * HALF)
    return np.stack(
        [
            rng.normal(0.1, 0.4, n),  # log |a|
            rng.normal(0.2, 0.4, n),  # log held peak
            rng.uniform(0.0, 1.0, n),  # turn from before, of 180 degrees
            rng.gamma(2.0, 1.2, n),  # log(1 + jerk)
        ],
        axis=1,
    )


def torch_probability(params: dict, x: np.ndarray) -> np.ndarray:
    """The fitted net's probabilities with torch (to check the numpy scorer against); for a
    bag of nets (``nets``), their mean."""
    import torch

    if "nets" in params:
        return np.mean([torch_probability(net, x) for net in params["nets"]], axis=0)
    net = make_net()
    net.load_state_dict({k: torch.tensor(v) for k, v in params["weights"].items()})
    net.eval()
    mean, std = np.array(params["mean"]), np.array(params["std"])
    xt = torch.tensor((x - mean[None, :, None]) / std[None, :, None], dtype=torch.float32)
    with torch.no_grad():
        return torch.sigmoid(net(xt)).numpy().astype(float)


def numpy_probability(params: dict, x: np.ndarray) -> np.ndarray:
    """The net's probabilities with numpy only, as the detector computes them; for a bag of
    nets (``cnn:0,1,2``, measured, not shipped), their mean."""
    if "nets" in params:
        return np.mean([numpy_probability(net, x) for net in params["nets"]], axis=0)
    return falls.cnn_scores(params, x)


class CnnData(fit_falls.Data):
    """``fit_falls.Data`` whose tables hold candidate windows and whose model is the net."""

    def __init__(self, variants: tuple[str, ...], seeds: tuple[int, ...] | None = None) -> None:
        from bench.falls_eval import load_trials

        self.seeds = seeds or (SEED,)
        self.trials = load_trials()
        self.subject = np.array([t.subject for t in self.trials])
        self.dataset = np.array([t.dataset for t in self.trials])
        self.is_fall = np.array([t.is_fall for t in self.trials])
        needed = dict.fromkeys([*variants, *fit_falls.TRAIN_VARIANTS])
        self.tables = {v: window_table(self.trials, v) for v in needed}
        self.late = False
        self.late_net = LATE_NET  # what the member is where the late trees score
        self.late_tables: dict = {}
        if LATE_NET != "none":
            tested = [v for v in variants if v in fit_falls.LATE_TEST_VARIANTS]
            late_variants = dict.fromkeys([*fit_falls.LATE_TRAIN_VARIANTS, *tested])
            self.late_tables = {v: window_table(self.trials, v, late=True) for v in late_variants}
            for v, tab in self.late_tables.items():  # the same candidates in the same order
                assert np.array_equal(tab.trial, self.tables[v].trial), v
        self._fits: dict = {}

    def _fit(self, train: np.ndarray, late: bool) -> dict:
        key = (np.packbits(train).tobytes(), late)
        if key in self._fits:
            return self._fits[key]
        xs, ys, ws = [], [], []
        for v in fit_falls.LATE_TRAIN_VARIANTS if late else fit_falls.TRAIN_VARIANTS:
            tab = self.late_tables[v] if late else self.tables[v]
            keep = train[tab.trial] & ((tab.room >= falls.LATE_ROOM_S) if late else True)
            xs.append(tab.x[keep])
            ys.append(tab.y[keep])
            owner_set = self.dataset[tab.trial[keep]]
            ws.append(np.array([1.0 / np.sum(self.dataset[train] == s) for s in owner_set]))
        x, y, w = np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)
        nets = [self._fit_one(x, y, w, seed, late) for seed in self.seeds]
        self._fits[key] = nets[0] if len(nets) == 1 else {"kind": "cnn", "nets": nets}
        return self._fits[key]

    @staticmethod
    def _fit_one(x: np.ndarray, y: np.ndarray, w: np.ndarray, seed: int, late: bool) -> dict:
        """One net, cached in /tmp by its training data and recipe (a full run takes long)."""
        epochs = LATE_EPOCHS if late else EPOCHS
        recipe = f"{inspect.getsource(fit_cnn)}{inspect.getsource(make_net)}{epochs} {BATCH} {seed}"
        digest = hashlib.sha1(x.tobytes() + y.tobytes() + w.tobytes() + recipe.encode())
        cache = Path(f"/tmp/bandhub_falls_cnn_fit_{digest.hexdigest()[:16]}.json")
        if cache.exists():
            return json.loads(cache.read_text())
        net = fit_cnn(x, y, w, seed, epochs)
        cache.write_text(json.dumps(net))
        return net

    def fit(self, train: np.ndarray) -> dict:
        params = self._fit(train, late=False)
        if self.late and self.late_net != "none":
            return {**params, "late": self._fit(train, late=True)}
        return params

    def candidate_probs(self, params: dict, v: str, keep: np.ndarray) -> np.ndarray:
        p = numpy_probability(params, self.tables[v].x[keep])
        if "late" in params:  # the late net where the late trees score
            use = self.tables[v].room[keep] >= falls.LATE_ROOM_S
            late = numpy_probability(params["late"], self.late_tables[v].x[keep][use])
            p[use] = (p[use] + late) / 2 if self.late_net == "mix" else late
        return p

    def trial_scores(self, params: dict, v: str, mask: np.ndarray) -> tuple[np.ndarray, ...]:
        tab = self.tables[v]
        keep = mask[tab.trial]
        p = self.candidate_probs(params, v, keep)
        return self.best_per_trial(tab, keep, p)


class Mixed(falls_ensemble.Ensemble):
    """The ensemble of tree members and the CNN, their probabilities averaged."""

    def __init__(self, members: tuple[str, ...], variants: tuple[str, ...]) -> None:
        self.members = []
        for name in members:
            kind, _, seeds = name.partition(":")  # "cnn:0,1,2": a net per seed, averaged
            if kind == "cnn":
                bag = tuple(int(k) for k in seeds.split(",")) if seeds else None
                self.members.append(CnnData(variants, bag))
            else:
                configure(name)
                self.members.append(fit_falls.Data(variants=variants))
        first = self.members[0]
        for other in self.members[1:]:  # the same candidates in the same order
            for v, tab in first.tables.items():
                assert np.array_equal(tab.trial, other.tables[v].trial), v
                assert np.array_equal(tab.y, other.tables[v].y), v
        self.__dict__.update({k: v for k, v in first.__dict__.items() if k != "_fits"})

    def trial_scores(self, params: dict, v: str, mask: np.ndarray) -> tuple[np.ndarray, ...]:
        keep = mask[self.tables[v].trial]
        probs = []
        for pm, m in zip(params["pair"], self.members, strict=True):
            if isinstance(m, CnnData):
                probs.append(m.candidate_probs(pm, v, keep))
            else:
                probs.append(falls_ensemble.candidate_scores(pm, m.tables[v], keep))
        p = np.mean(probs, axis=0)
        return self.best_per_trial(self.tables[v], keep, p)


def validations(data: fit_falls.Data, both: bool) -> dict[str, tuple[dict, np.ndarray]]:
    """CV within each set and each set to the other (``falls_ensemble.validations`` without
    the shared-recipe CV unless ``both``)."""
    if both:
        return falls_ensemble.validations(data)
    by_set = {s: data.dataset == s for s in SETS}
    out = {f"cv {s}": (fit_falls.nested(data, m)[0], m) for s, m in by_set.items()}
    for s, m in by_set.items():
        (other,) = [o for o in SETS if o != s]
        out[f"{s} -> {other}"] = (fit_falls.nested(data, m, by_set[other])[0], by_set[other])
    return out


def main() -> None:
    global SEED, LATE_NET, LATE_EPOCHS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="leave one subject out")
    parser.add_argument("--members", nargs="+", default=["shipped", "bandlimited", "cnn"])
    parser.add_argument("--variants", nargs="+", default=["full", "20hz"])
    parser.add_argument("--both", action="store_true", help="also the shared-recipe CV")
    parser.add_argument("--alone", nargs="*", default=None, help="members to print alone")
    parser.add_argument("--seed", type=int, default=SEED, help="the net's seed")
    parser.add_argument("--late", action="store_true", help="also the 4-s confirmation")
    parser.add_argument("--late-net", choices=LATE_NETS, default=LATE_NET)
    parser.add_argument("--late-epochs", type=int, default=LATE_EPOCHS)
    args = parser.parse_args()
    SEED, LATE_NET, LATE_EPOCHS = args.seed, args.late_net, args.late_epochs
    start = time.perf_counter()
    fit_falls.OUTER_FOLDS = 0 if args.full else 4
    fit_falls.TEST_VARIANTS = tuple(args.variants)
    data = Mixed(tuple(args.members), tuple(args.variants))
    print("recall/ADL clean per test variant (found in the fall window / no alarm)")
    alone = args.members if args.alone is None else args.alone
    k = len(args.members)
    trees = [m for m in data.members if not isinstance(m, CnnData)]
    for late in (False, True) if args.late else (False,):
        suffix = " late" if late else ""
        data.set_late(late)
        nets = [m for m in data.members if isinstance(m, CnnData)]
        for m in nets:  # the ±2 s net alone where the late trees score, to compare with
            m.late_net = "none"
        for name, member in zip(args.members, data.members, strict=True):
            if name in alone and not (late and isinstance(member, CnnData)):
                falls_ensemble.print_table(member, name + suffix, validations(member, args.both))
                print(f"  {time.perf_counter() - start:.0f} s", flush=True)
        if len(trees) > 1 and k > len(trees):
            pair = Mixed.__new__(Mixed)
            pair.__dict__.update(data.__dict__)
            pair.members = trees
            label = "trees averaged" + suffix
            falls_ensemble.print_table(pair, label, validations(pair, args.both))
        label = f"{k} averaged{suffix}" + (", the ±2 s net" if late and nets else "")
        falls_ensemble.print_table(data, label, validations(data, args.both))
        if late and nets and LATE_NET != "none":
            for m in nets:
                m.late_net = LATE_NET
            for name, member in zip(args.members, data.members, strict=True):
                if name in alone and isinstance(member, CnnData):
                    label = f"{name} late, late net {LATE_NET}"
                    falls_ensemble.print_table(member, label, validations(member, args.both))
            label = f"{k} averaged{suffix}, late net {LATE_NET}"
            falls_ensemble.print_table(data, label, validations(data, args.both))
            print(f"  {time.perf_counter() - start:.0f} s", flush=True)
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
