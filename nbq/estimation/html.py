"""report.html: one self-contained page (inline CSS and SVG, no script, no network) from report.json data."""

from __future__ import annotations

from nbq.backends.escape import html_text

NAMES = {"lut": "LUT", "ff": "FF", "dsp": "DSP", "bram36": "BRAM36", "uram": "URAM"}


def _e(value: object) -> str:
    return html_text(value)


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 10 or float(value).is_integer() else f"{value:,.1f}"


def _bars(data: dict) -> str:
    rows = []
    for key, label in NAMES.items():
        used, limit, avail = data["total"][key], data["budget"][key], data["available"][key]
        share = used / limit if limit else (0.0 if not used else 1.0)
        width = 100 * min(share, 1.0)
        cls = "over" if share > 1 else "ok"
        rows.append(
            f'<tr><th>{label}</th><td class="num">{_num(used)}</td><td class="num">{_num(limit)}</td>'
            f'<td class="num">{_num(avail)}</td><td><svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" '
            f'role="img" aria-label="{label} {100 * share:.1f} % of the budget"><rect width="100" height="10" '
            f'class="track"/><rect width="{width:.2f}" height="10" class="{cls}"/></svg></td>'
            f'<td class="num">{100 * share:.1f} %</td></tr>')
    return ('<table><thead><tr><th>resource</th><th>estimate</th><th>budget</th><th>available</th><th>use</th>'
            '<th>of budget</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>")


def _cycles_plot(data: dict) -> str:
    layers = data["layers"]
    ii = max([data["performance"]["ii_cycles"], 1])
    bar_h, gap, label_w, plot_w = 16, 4, 180, 520
    height = len(layers) * (bar_h + gap) + 24
    parts = [f'<svg class="cycles" viewBox="0 0 {label_w + plot_w + 90} {height}" role="img" '
             f'aria-label="cycles per image of every layer">']
    for i, layer in enumerate(layers):
        y = i * (bar_h + gap)
        w = plot_w * layer["cycles"] / ii
        cls = "slow" if layer["cycles"] == ii else "ok"
        parts.append(f'<text x="{label_w - 6}" y="{y + bar_h - 4}" text-anchor="end">{_e(layer["name"])}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{w:.2f}" height="{bar_h}" class="{cls}"/>'
                     f'<text x="{label_w + w + 4:.2f}" y="{y + bar_h - 4}">{layer["cycles"]:,}</text>')
    parts.append(f'<text x="{label_w}" y="{height - 6}">cycles per image (interval {ii:,}: the slowest stage)</text>')
    return "".join(parts) + "</svg>"


def _layers(data: dict) -> str:
    head = ("<tr><th>layer</th><th>op</th><th>engine</th><th>PE x SIMD</th><th>NF x SF</th><th>cycles</th>"
            "<th>ROM (depth x width, kind)</th>" + "".join(f"<th>{v}</th>" for v in NAMES.values()) + "</tr>")
    rows = []
    for la in data["layers"]:
        fold = f"{la['pe']} x {la['simd']}{' complex' if la.get('complex') else ''}" if "pe" in la else ""
        nfsf = f"{la['nf']} x {la['sf']}" if "nf" in la else ""
        rom = la.get("rom")
        rom_text = f"{rom['depth']} x {rom['width']}, {rom['memory']}" if rom else ""
        res = la.get("resources") or {}
        rows.append(f"<tr><td>{_e(la['name'])}</td><td>{_e(la['op'])}</td><td>{_e(la.get('engine', ''))}</td>"
                    f"<td>{fold}</td><td>{nfsf}</td><td class=\"num\">{la['cycles']:,}</td><td>{_e(rom_text)}</td>"
                    + "".join(f'<td class="num">{_num(res.get(k))}</td>' for k in NAMES) + "</tr>")
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _verification(data: dict) -> str:
    rows = []
    for kind, label in (("csim", "HLS C-simulation (g++)"), ("cosim", "RTL co-simulation (cocotb + Verilator)")):
        v = (data.get("verification") or {}).get(kind)
        if not v:
            text = "not run"
        else:
            verdict = "PASS" if v.get("passed") else "FAIL"
            text = f"{verdict}: {v.get('images', 0)} images, {v.get('mismatches', 0)} mismatches"
            if v.get("cycles_per_image") is not None:
                text += f", {v['cycles_per_image']:,.1f} cycles/image measured (model {v.get('model_cycles'):,})"
        rows.append(f"<tr><th>{label}</th><td>{_e(text)}</td></tr>")
    return f"<table><tbody>{''.join(rows)}</tbody></table>"


def _measured(data: dict) -> str:
    m = data.get("measured")
    if not m:
        return ""
    head = "<tr><th>source</th>" + "".join(f"<th>{v}</th>" for v in NAMES.values()) + "</tr>"
    rows = ["<tr><td>nbq estimate</td>" + "".join(f'<td class="num">{_num(data["total"][k])}</td>' for k in NAMES)
            + "</tr>"]
    for source, res in m.items():
        rows.append(f"<tr><td>{_e(source)}</td>" + "".join(f'<td class="num">{_num(res.get(k))}</td>' for k in NAMES)
                    + "</tr>")
    return f"<h2>Measured by the AMD tools</h2><table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}h1{font-size:1.4em}
h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}svg.bar{width:220px;height:12px}.track{fill:#eee}
.ok{fill:#3a7}.over{fill:#d33}.slow{fill:#d83}svg.cycles{width:100%;max-width:900px;font-size:11px}
.note{color:#666;font-size:.9em}"""


def report_html(data: dict) -> str:
    perf = data["performance"]
    modes = {"max-throughput": "maximum throughput within the budget", "folding-file": "the folding file's choice",
             "fps": f"the smallest design reaching {_num(data.get('target_fps'))} frames/s"}
    mode = modes.get(data["mode"], data["mode"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>nbq report: {_e(data['model'])} on {_e(data['board'])}</title>
<style>{STYLE}</style></head><body>
<h1>{_e(data['model'])} on {_e(data['board'])} ({_e(data['part'])})</h1>
<p id="summary"><b>{perf['ii_cycles']:,}</b> cycles per image, <b>{perf['frames_per_s']:,.0f}</b> frames/s,
<b>{perf['gops']:,.1f}</b> GOP/s at {_num(perf['clock_mhz'])} MHz; power-of-two layers on <b>{_e(data['engine'])}</b>;
folding: {_e(mode)}; slowest stage: {_e(perf['slowest'])}.</p>
<h2>Resources against the budget</h2>{_bars(data)}
<p class="note">{_e(data['estimate_source'])}. An estimate, not a Vivado run.</p>
{_measured(data)}
<h2>Cycles per image</h2>{_cycles_plot(data)}
<h2>Layers and folding</h2>{_layers(data)}
<h2>Verification</h2>{_verification(data)}
</body></html>
"""
