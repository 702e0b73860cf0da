"""``hvrmet nowcast eval``: every method on the same held-out events, as a table, a JSON
file and a plot of CSI by lead time."""

from __future__ import annotations

import json
import math
from pathlib import Path

__all__ = ["evaluate_and_report"]

BASELINE = "extrapolation"


def _fmt(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def _with_data_dir(case: str, data_dir: str | None, out: Path) -> str:
    """A user's case file with ``data_dir`` fixed to the folder given on the command line
    (a copy under ``out``); catalogue ids are returned unchanged."""
    import yaml

    if not data_dir or not Path(case).is_file():
        return case
    data = yaml.safe_load(Path(case).read_text())
    data["data_dir"] = str(Path(data_dir).resolve())
    copy = Path(out) / "cases" / Path(case).name
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(yaml.safe_dump(data))
    return str(copy)


def evaluate_and_report(methods: list[str], cases: list[str] | None, *, data_dir: str | None = None,
                        out: Path = Path("out/nowcast"), max_times: int = 4, every: int = 6, crop: int = 256,
                        console=None) -> dict:
    """Run :func:`hvrmet.nowcast.verification.evaluate` and write ``scores.json`` and
    ``csi_by_lead.png`` into ``out``; print a table when a rich console is given.

    Ratios are each method's score over the extrapolation baseline's (mean CSI at 35
    dBZ and mean HSS at 45 dBZ, 5-60 min).
    """
    from hvrmet.nowcast.dataset import load_split
    from hvrmet.nowcast.verification import evaluate

    cases = [_with_data_dir(c, data_dir, out) for c in (cases or load_split("test"))]
    res = evaluate(methods, cases, every=every, max_times=max_times, crop=crop)
    base = res["methods"].get(BASELINE, {}).get("summary", {})
    rows = []
    for name in methods:
        m = res["methods"][name]
        s = m["summary"]
        csi = s.get("CSI35_mean_5_60min", float("nan"))
        hss = s.get("HSS45_mean_5_60min", float("nan"))
        b_csi = base.get("CSI35_mean_5_60min", float("nan"))
        b_hss = base.get("HSS45_mean_5_60min", float("nan"))
        rows.append({"method": name, "CSI35": csi, "HSS45": hss,
                     "FSS35_16px": s.get("FSS35_16px_mean_5_60min", float("nan")),
                     "RAPSD_ratio": s.get("RAPSD_ratio_mean_5_60min", float("nan")),
                     "CSI35_vs_extrapolation": csi / b_csi if b_csi else float("nan"),
                     "HSS45_vs_extrapolation": hss / b_hss if b_hss else float("nan"),
                     "seconds_per_forecast": m.get("seconds_per_forecast", float("nan")),
                     "forecasts": m.get("n_forecasts", 0)})
    res["table"] = rows
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scores.json").write_text(json.dumps(res, indent=1, default=float))
    _plot(res, methods, out / "csi_by_lead.png")
    if console is not None:
        from rich.table import Table

        t = Table(title=f"nowcast verification on {', '.join(cases)} (means over 5-60 min)")
        for col in ("method", "CSI 35 dBZ", "HSS 45 dBZ", "FSS 35 dBZ 16 px", "RAPSD ratio", "CSI35 / extrap.",
                    "HSS45 / extrap.", "s / forecast"):
            t.add_column(col)
        for r in rows:
            t.add_row(r["method"], _fmt(r["CSI35"]), _fmt(r["HSS45"]), _fmt(r["FSS35_16px"]), _fmt(r["RAPSD_ratio"]),
                      _fmt(r["CSI35_vs_extrapolation"]), _fmt(r["HSS45_vs_extrapolation"]),
                      _fmt(r["seconds_per_forecast"]))
        console.print(t)
        console.print(f"wrote {out / 'scores.json'} and {out / 'csi_by_lead.png'}")
    return res


def _plot(res: dict, methods: list[str], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.add_subplot()
    for name in methods:
        sc = res["methods"][name]["scores"]
        csi = next((v for k, v in sc["CSI"].items() if float(k) == 35.0), None)
        if csi is not None:
            ax.plot(sc["lead_times_min"], csi, marker="o", label=name)
    ax.set_xlabel("lead time (min)")
    ax.set_ylabel("CSI at 35 dBZ")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("CSI by lead time, held-out events")
    fig.tight_layout()
    fig.savefig(path)
