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


def _rows(summaries: dict, methods: list[str], tag: str, extra: dict | None = None) -> list[dict]:
    base = summaries.get(BASELINE, {})
    b_csi = base.get(f"CSI35_mean_{tag}", float("nan"))
    b_hss = base.get(f"HSS45_mean_{tag}", float("nan"))
    rows = []
    for name in methods:
        s = summaries[name]
        csi = s.get(f"CSI35_mean_{tag}", float("nan"))
        hss = s.get(f"HSS45_mean_{tag}", float("nan"))
        row = {"method": name, "CSI35": csi, "HSS45": hss,
               "FSS35_16px": s.get(f"FSS35_16px_mean_{tag}", float("nan")),
               "RAPSD_ratio": s.get(f"RAPSD_ratio_mean_{tag}", float("nan")),
               "CSI35_vs_extrapolation": csi / b_csi if b_csi else float("nan"),
               "HSS45_vs_extrapolation": hss / b_hss if b_hss else float("nan")}
        row.update((extra or {}).get(name, {}))
        rows.append(row)
    return rows


def evaluate_and_report(methods: list[str], cases: list[str] | None, *, data_dir: str | None = None,
                        out: Path = Path("out/nowcast"), every_min: float = 30.0, starts: int | None = None,
                        crop: int | None = None, lead_max_min: float = 60.0,
                        scales: tuple[int, ...] = (1, 4, 16), console=None) -> dict:
    """Run :func:`hvrmet.nowcast.verification.evaluate` and write ``scores.json`` (with
    per-lead tables of every method, overall and per event) and ``csi_by_lead.png`` into
    ``out``; print a table when a rich console is given.

    Ratios are each method's score over the extrapolation baseline's (mean CSI at 35
    dBZ and mean HSS at 45 dBZ over 5 to ``lead_max_min`` minutes), overall (``table``)
    and per event (``table_per_case``).
    """
    from hvrmet.nowcast.dataset import load_split
    from hvrmet.nowcast.verification import evaluate

    cases = [_with_data_dir(c, data_dir, out) for c in (cases or load_split("test"))]
    res = evaluate(methods, cases, every_min=every_min, starts=starts, crop=crop, lead_max_min=lead_max_min,
                   scales=scales)
    tag = f"5_{int(lead_max_min)}min"
    timing = {n: {"seconds_per_forecast": res["methods"][n].get("seconds_per_forecast", float("nan")),
                  "forecasts": res["methods"][n].get("n_forecasts", 0)} for n in methods}
    res["table"] = _rows({n: res["methods"][n]["summary"] for n in methods}, methods, tag, timing)
    res["table_per_case"] = {c: _rows({n: res["per_case"][c][n]["summary"] for n in methods}, methods, tag)
                             for c in res["per_case"]}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scores.json").write_text(json.dumps(res, indent=1, default=float))
    _plot(res, methods, out / "csi_by_lead.png")
    if console is not None:
        from rich.table import Table

        dom = "full domain" if not crop else f"{crop} px crop"
        for title, rows in [("all events", res["table"])] + list(res["table_per_case"].items()):
            t = Table(title=f"nowcast verification, {title} ({dom}, means over 5-{int(lead_max_min)} min)")
            for col in ("method", "CSI 35 dBZ", "HSS 45 dBZ", "FSS 35 dBZ 16 px", "RAPSD ratio", "CSI35 / extrap.",
                        "HSS45 / extrap."):
                t.add_column(col)
            for r in rows:
                t.add_row(r["method"], _fmt(r["CSI35"]), _fmt(r["HSS45"]), _fmt(r["FSS35_16px"]),
                          _fmt(r["RAPSD_ratio"]), _fmt(r["CSI35_vs_extrapolation"]), _fmt(r["HSS45_vs_extrapolation"]))
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
