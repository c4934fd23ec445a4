"""The nightly summary as text, for the terminal and the task log."""

from __future__ import annotations


def render(summary: dict) -> str:
    lines = [
        f"citylake nightly {summary['run_date']} ({summary['environment']})",
        f"  lake     {summary['lake_root']}",
        f"  reports  {summary['reports']}",
        f"  docs     {summary.get('data_docs') or '-'}",
        f"  catalog  {summary.get('catalog') or '-'}",
        "",
        f"  {'source':<28}{'status':<10}{'read':>8}{'raw':>8}{'q-land':>8}{'standard':>10}{'q-std':>8}",
    ]
    for name, source in summary["sources"].items():
        lines.append(
            f"  {name:<28}{source['status']:<10}{source['rows_read']:>8}{source['raw']:>8}"
            f"{source['landing_quarantined']:>8}{source['standard']:>10}"
            f"{source['standardise_quarantined']:>8}"
        )
        if source.get("reason"):
            lines.append(f"      rejected: {source['reason']}")
        for rule, rows in sorted(source["quarantine_rules"].items()):
            lines.append(f"      quarantined {rows:>6} by {rule}")
    lines.append("")
    for layer in ("base", "theme"):
        for name, rows in summary[layer].items():
            lines.append(f"  {layer}/{name:<40}{'-' if rows is None else rows:>10}")
    lines.append("")
    for table, gate in summary["gates"].items():
        status = "passed" if gate["passed"] else "FAILED"
        warned = f" (warnings: {', '.join(gate['warnings'])})" if gate["warnings"] else ""
        lines.append(f"  gate {table:<38}{status}{warned}")
    return "\n".join(lines)
