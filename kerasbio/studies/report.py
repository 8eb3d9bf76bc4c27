"""`report.md` and the figures of a study run, rebuilt from its tables at any time."""

import os

from kerasbio.studies.base import experiment_rows
from kerasbio.studies.results import read_tables, write_tables

REPORT = "report.md"


def rebuild_report(out, echo=print):
    """`kerasbio report DIR`: tables from the trial files (when present), figures, report."""
    from kerasbio.studies import get_study
    from kerasbio.studies.runner import load_runs, load_settings, project_exists

    if not os.path.exists(os.path.join(out, "settings.json")):
        raise FileNotFoundError(
            f"{out!r} is not a study run directory (no settings.json); pass the --out "
            f"directory of `kerasbio study ...`.")
    settings = load_settings(out)
    study = get_study(settings.study)
    if project_exists(out):
        results, histories = write_tables(out, axes=list(study.axes))
    else:
        results, histories = read_tables(out)
    path = write_report(study, settings, out, results, histories, load_runs(out))
    echo(f"Report: {path}")
    return path


def write_report(study, settings, out, results, histories, runs):
    """Write the study's figures and `report.md` into `out`; return the report's path."""
    done = results[results["status"] == "COMPLETED"] if len(results) else results
    figures = study.figures(settings, done, histories, out) if len(done) else []
    findings = study.findings(settings, done) if len(done) else []
    sections = [
        f"# {study.title}{' (quick settings)' if settings.quick else ''}",
        f"Paper: {study.paper}",
        _provenance(runs),
        _grid_section(study, settings, results),
        "## Paper vs here\n\n" + (findings_table(findings) if findings
                                 else "No completed trials yet."),
    ]
    for heading, table in (study.tables(settings, done) if len(done) else []):
        sections.append(f"## {heading}\n\n{table}")
    if figures:
        sections.append("## Figures\n\n" + "\n\n".join(
            f"![{caption}]({name})\n\n*{caption}*" for name, caption in figures))
    sections.append(_failures(results))
    path = os.path.join(out, REPORT)
    with open(path, "w") as file:
        file.write("\n\n".join(section for section in sections if section) + "\n")
    return path


def findings_table(findings):
    """The paper-vs-here table (claim, paper, here, reproduced), then one sentence a finding."""
    lines = ["| finding | paper | here | reproduced |", "|---|---|---|---|"]
    lines += [f"| {f.claim} | {f.paper} | {f.here} | {f.verdict} |" for f in findings]
    lines.append("")
    lines += [f"- {f.sentence}" for f in findings]
    return "\n".join(lines)


def _provenance(runs):
    if not runs:
        return ""
    last = runs[-1]
    versions = ", ".join(f"{name} {version}" for name, version in last["versions"].items())
    lines = ["## Run", "", f"- Command: `{last['command']}` (strategy: {last['strategy']})",
             f"- Versions: {versions}",
             f"- Wall time: {sum(run['seconds'] for run in runs):.0f} s{_cpu_time(runs)} over "
             f"{len(runs)} invocation(s), last finished {last['finished']}"]
    return "\n".join(lines)


def _cpu_time(runs):
    if not all("cpu_seconds" in run for run in runs):
        return ""
    return f" (process CPU time {sum(run['cpu_seconds'] for run in runs):.0f} s)"


def _grid_section(study, settings, results):
    counts = results["status"].value_counts().to_dict() if len(results) else {}
    status = ", ".join(f"{count} {name.lower()}" for name, count in sorted(counts.items()))
    extra = ", ".join(f"{key}={value}" for key, value in settings.extra.items())
    lines = ["## Grid", "",
             f"- Data: {settings.dataset}; epochs: {settings.epochs}; global batch size: "
             f"{settings.batch_size}; {extra}",
             f"- Seeds: {', '.join(str(seed) for seed in range(settings.seeds))} (each its own "
             f"trial)",
             f"- Trials: {len(results)} ({status or 'none yet'})"]
    for number in settings.experiments:
        part = experiment_rows(results, number)
        axes = [axis for axis in results.columns if axis not in ("trial_id", "experiment")
                and axis in study.axes and part[axis].nunique() > 1] if len(part) else []
        values = "; ".join(f"{axis}: {sorted(part[axis].unique().tolist())}" for axis in axes)
        lines.append(f"- Experiment {number} ({study.experiments[number]}): {len(part)} "
                     f"trials; {values}")
    return "\n".join(lines)


def _failures(results):
    if not len(results):
        return ""
    failed = results[results["status"] != "COMPLETED"]
    if failed.empty:
        return ""
    lines = ["## Failed or unfinished trials", "", "| trial | status | error |", "|---|---|---|"]
    lines += [f"| {row.trial_id} | {row.status} | {row.error} |" for row in failed.itertuples()]
    return "\n".join(lines)
