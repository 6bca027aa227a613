"""Why one document of a run was kept or dropped.

  mathmine explain URL_OR_ID --run DIR [--json] [--config FILE] [--set clean.KEY=VALUE]

Looks the document up by id or URL in DIR/docs/, re-applies every cleaning rule (with the run's
clean config from run.json unless --config/--set say otherwise; the domain's boilerplate lines
as the clean stage recorded them in clean_boilerplate/, else recounted from the docs of that
domain) and prints each rule's verdict and the lines it removed. Then what the later stages
recorded, for the tables that exist: clean_decisions/, dedup/ (cluster and keep),
scores/iter=N/ (score per iteration), selected/, export_decisions/ and the shards. Last, the
formulas: how many the fast text had at extract and the shard text has, and for each formula
of the fast text missing from the shard text, the step that removed it (the page's drop, the
careful extractor, or the line rule that removed its line; the careful text is re-made from the
WARC record for this). No Spark: the tables are read with pyarrow, filtered on the id.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from jobs.run_folder import RunFolder
from pipeline.config import CleanConfig, Config, load_config
from pipeline.errors import UserError

SHOW_FORMULAS = 15  # missing formulas listed one by one in the text output


def _dataset(run: RunFolder, *parts: str):
    import pyarrow.dataset as ds

    return ds.dataset(
        run.fs_path(*parts),
        filesystem=run.fs,
        format="parquet",
        partitioning="hive",
        exclude_invalid_files=True,
    )


def _rows(run: RunFolder, parts, column: str, values: list[str], columns=None):
    """Rows of the table at ``parts`` (a sub-folder name or tuple) where ``column`` is in
    ``values``; None when the table does not exist."""
    import pyarrow.compute as pc

    parts = (parts,) if isinstance(parts, str) else tuple(parts)
    if not run.has_parquet(*parts):
        return None
    d = _dataset(run, *parts)
    if column not in d.schema.names:
        return []
    cols = [c for c in (columns or d.schema.names) if c in d.schema.names]
    t = d.to_table(columns=cols, filter=pc.field(column).isin(values))
    return t.to_pylist()


def find_docs(run: RunFolder, target: str) -> list[dict]:
    """Documents of docs/ whose id or URL is ``target``."""
    docs = run.uri("docs")
    if not run.has_parquet("docs"):
        raise UserError(
            f"{str(docs)!r} has no Parquet files; run `mathmine extract` (or `mathmine run`) first"
        )
    rows = _rows(run, "docs", "id", [target]) or []
    if not rows:
        rows = _rows(run, "docs", "url", [target]) or []
    if not rows:
        raise UserError(
            f"no document with id or URL {target!r} in {str(docs)!r}; pass an id from "
            "clean_decisions/ or docs/, or the exact URL as extracted"
        )
    return rows


def clean_config_for(run: RunFolder, args) -> CleanConfig:
    """The clean config the run used (run.json), unless --config/--set were given."""
    if getattr(args, "config", None) or getattr(args, "overrides", None):
        return load_config(args.config, args.overrides).clean
    saved = ((run.read_run() or {}).get("config") or {}).get("clean") or {}
    names = {f.name for f in dataclasses.fields(CleanConfig)}
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in saved.items() if k in names}
    return dataclasses.replace(CleanConfig(), **kw)


def find_domain_boilerplate(run: RunFolder, domain: str, cfg: CleanConfig) -> list[int]:
    """Line hashes on >= boilerplate_min_pages pages of ``domain``: as the clean stage found
    them (clean_boilerplate/), or recounted from docs/ when the clean stage has not run (or
    --config/--set changed the clean settings: see :func:`main`)."""
    from jobs.clean_job import BOILERPLATE
    from pipeline.clean_boilerplate import domain_boilerplate

    if not (cfg.boilerplate_lines and domain):
        return []
    recorded = _rows(run, BOILERPLATE, "domain", [domain], ["h"])
    if recorded is not None and cfg == clean_config_for(run, None):
        return sorted(int(r["h"]) for r in recorded)
    rows = _rows(run, "docs", "domain", [domain], ["id", "text"]) or []
    pages = ((r["id"], domain, r.get("text")) for r in rows)
    return domain_boilerplate(pages, cfg).get(domain, [])


def later_stages(run: RunFolder, doc_id: str) -> dict[str, Any]:
    """What clean/dedup/recall/export recorded for ``doc_id`` (only tables that exist)."""
    out: dict[str, Any] = {}
    cd = _rows(run, "clean_decisions", "id", [doc_id])
    if cd is not None:
        out["clean"] = cd[0] if cd else {"missing": True}
    dd = _rows(run, "dedup", "id", [doc_id])
    if dd is not None:
        out["dedup"] = dd[0] if dd else {"missing": True, "note": "not in dedup input"}
    iters = [n for n in run.listdir("scores") if n.startswith("iter=")]
    if iters:
        scores = {}
        for it in sorted(iters, key=lambda n: int(n.split("=")[1])):
            r = _rows(run, ("scores", it), "id", [doc_id])
            if r is not None:
                scores[it] = r[0].get("score") if r else None
        if scores:
            out["scores"] = scores
    sel = _rows(run, "selected", "id", [doc_id])
    if sel is not None:
        out["selected"] = sel[0] if sel else False
    ex = _rows(run, "export_decisions", "id", [doc_id])
    if ex:
        out["export"] = next((r for r in ex if r.get("keep")), ex[0])
    from pipeline.shards import read_manifest

    manifest = read_manifest(run.fs_path("shards"), run.fs)
    if manifest is not None and sel is not None:
        out["exported"] = bool(sel)
    return out


def explain_doc(run: RunFolder, doc: dict, cfg: CleanConfig, config: Config | None = None):
    from pipeline.clean_chain import clean_document

    d = dict(doc)
    d["boilerplate_hashes"] = find_domain_boilerplate(run, d.get("domain") or "", cfg)
    out, dec = clean_document(d, cfg, all_rules=True)
    recorded = later_stages(run, str(doc.get("id")))
    config = dataclasses.replace(config or Config(), clean=cfg)
    return {
        "id": doc.get("id"),
        "url": doc.get("url"),
        "domain": doc.get("domain"),
        "clean": dec.to_dict(),
        "text_chars_before": len(doc.get("text") or ""),
        "text_chars_after": len(out["text"]) if out else None,
        "recorded": recorded,
        "formulas": explain_formulas(run, doc, recorded, d["boilerplate_hashes"], config),
    }


def page_fate(recorded: dict[str, Any]) -> str | None:
    """Where the page left the pipeline before its shard text, from what the stages recorded
    (None: it was exported, or no stage after extract has run)."""
    c, d = recorded.get("clean"), recorded.get("dedup")
    if c and not c.get("missing") and not c.get("keep"):
        return f"clean: {c.get('reason')}"
    if d and not d.get("missing") and not d.get("keep"):
        return f"dedup: {d.get('reason')} (a duplicate: its representative ships)"
    if recorded.get("selected") is False:
        return "selection: not selected"
    e = recorded.get("export")
    if e and not e.get("keep"):
        return f"export: {e.get('reason')}"
    return None


def explain_formulas(
    run: RunFolder, doc: dict, recorded: dict, hashes: list[int], config: Config
) -> dict[str, Any]:
    """The document's formulas at extract (its fast text) and in its shard text, and for each
    formula missing from the shard text the step that removed it: the page's drop, the careful
    extractor (not in the careful text) or the line rule that removed its line."""
    from pipeline.ledger import formula_key, missing_formulas
    from pipeline.math_text import count_formulas, iter_formulas

    fast = doc.get("text") or ""
    out: dict[str, Any] = {"fast": count_formulas(fast), "shard": None, "missing": []}
    row = _rows(run, "shards", "id", [str(doc.get("id"))], ["id", "text", "text_source"]) or []
    fate = page_fate(recorded)
    if not row:
        out["page"] = fate or "not exported (export has not run)"
        return out
    shard = row[0]["text"] or ""
    out.update(shard=count_formulas(shard), text_source=row[0].get("text_source"))
    missing = missing_formulas(fast, shard)
    if not missing:
        return out
    careful, why = _careful_text(doc, config)
    removed = {}
    if careful is not None:
        from pipeline.clean_chain import clean_document

        d = {"url": doc.get("url"), "text": careful, "boilerplate_hashes": hashes}
        _, dec = clean_document(d, config.clean, all_rules=True)
        for rule, line in dec.removed_lines():
            for f in iter_formulas(line):
                removed.setdefault(formula_key(f), rule)
        in_careful = {formula_key(f) for f in iter_formulas(careful)}
    for f in missing:
        k = formula_key(f)
        if careful is None:
            where = f"unknown: {why}"
        elif k in removed:
            where = f"line removed by {removed[k]}"
        elif k in in_careful:
            where = "in the careful text, not in the shard text (rules' line edits)"
        elif (row[0].get("text_source") or "").startswith("fast_fallback"):
            where = "not in the shipped fast text"
        else:
            where = "not in the careful text (the careful extractor dropped it)"
        out["missing"].append({"formula": f, "where": where})
    return out


def _careful_text(doc: dict, config: Config) -> tuple[str | None, str]:
    """The careful text of the document's WARC record, or (None, why not)."""
    from jobs.export_job import open_warc, reread_html
    from pipeline.shard_text import careful_extraction

    try:
        with open_warc(doc["warc_path"], config) as stream:
            html = reread_html(stream, doc, config)
    except Exception as e:  # a gone WARC, another record at the offset: say so, not fail
        return None, f"the WARC record could not be re-read ({type(e).__name__})"
    ext, why = careful_extraction(html, doc.get("url") or "", config)
    return (ext.text, "") if ext is not None else (None, why)


def format_explanation(e: dict[str, Any]) -> str:
    from pipeline.clean_rules import rule_named

    c = e["clean"]
    lines = [
        f"document {e['id']}  {e['url']}",
        f"domain {e['domain'] or '-'}; {c['lines_in']} lines in, {c['lines_out']} after line rules",
        f"clean: {'KEPT' if c['keep'] else 'DROPPED (' + str(c['reason']) + ')'}",
        "rules:",
    ]
    for r in c["rules"]:
        what = r["outcome"]
        if r["reason"]:
            what += f" ({r['reason']})"
        if r["removed"]:
            what += f", {len(r['removed'])} line(s) removed"
        lines.append(f"  {r['rule']:<20} {what}")
        if r["outcome"] == "drop":
            keys = rule_named(r["rule"]).config_keys
            lines.append(f"      set by: {', '.join('clean.' + k for k in keys)}")
        for ln in r["removed"]:
            shown = ln if len(ln) <= 160 else ln[:157] + "..."
            lines.append(f"      - {shown!r}")
    if c["pii_emails"] or c["pii_ips"]:
        lines.append(f"pii: {c['pii_emails']} e-mail(s), {c['pii_ips']} IP(s) replaced")
    rec = e["recorded"]
    if not rec:
        lines.append("later stages: none run yet in this folder")
    if "clean" in rec:
        r = rec["clean"]
        if r.get("missing"):
            lines.append("clean_decisions/: no row (clean ran before this doc was extracted?)")
        else:
            lines.append(f"clean_decisions/: keep={r['keep']} reason={r.get('reason')}")
    if "dedup" in rec:
        r = rec["dedup"]
        if r.get("missing"):
            lines.append("dedup/: no row (dropped by clean, so not deduplicated)")
        else:
            lines.append(
                f"dedup/: keep={r.get('keep')} cluster={r.get('cluster_id')} "
                f"reason={r.get('reason')}"
            )
    for it, s in rec.get("scores", {}).items():
        lines.append(f"scores/{it}: {'not scored' if s is None else f'{s:.4f}'}")
    if "selected" in rec:
        s = rec["selected"]
        lines.append(
            "selected/: yes" + (f" (math_score {s.get('math_score')})" if s else "")
            if s
            else "selected/: no"
        )
    if "export" in rec:
        r = rec["export"]
        lines.append(
            f"export_decisions/: keep={r['keep']} reason={r.get('reason')} "
            f"text_source={r.get('text_source')}"
        )
    if "exported" in rec:
        lines.append(f"shards/: {'exported' if rec['exported'] else 'not exported'}")
    f = e.get("formulas") or {}
    if f:
        shard = "-" if f["shard"] is None else f"{f['shard']}"
        lines.append(
            f"formulas: {f['fast']} in the fast text (extract), {shard} in the shard text"
            + (f" (text_source {f['text_source']})" if f.get("text_source") else "")
        )
        if f.get("page"):
            lines.append(
                f"  all lost with the page: {f['page']}" if f["fast"] else f"  {f['page']}"
            )
        if f["missing"]:
            from collections import Counter

            where = Counter(m["where"] for m in f["missing"])
            lines.append(f"  missing from the shard text ({len(f['missing'])}):")
            lines += [f"    {n:>5} {w}" for w, n in where.most_common()]
            for m in f["missing"][:SHOW_FORMULAS]:
                tex = m["formula"] if len(m["formula"]) <= 60 else m["formula"][:57] + "..."
                lines.append(f"      {tex!r}: {m['where']}")
            if len(f["missing"]) > SHOW_FORMULAS:
                lines.append(
                    f"      ... {len(f['missing']) - SHOW_FORMULAS} more (--json lists all)"
                )
    return "\n".join(lines)


def add_arguments(p) -> None:
    p.add_argument("target", metavar="URL_OR_ID", help="a document id or its exact URL")
    p.add_argument("--run", metavar="DIR", required=True, help="the run folder")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def main(args) -> int:
    from jobs.input_checks import check_run_input, open_run

    config, run = open_run(args)
    if not run.exists():
        raise UserError(f"run folder {run.location!r} does not exist; pass --run DIR")
    check_run_input(run, "explain")
    cfg = clean_config_for(run, args)
    explanations = [explain_doc(run, d, cfg, config) for d in find_docs(run, args.target)]
    if args.json:
        print(json.dumps(explanations if len(explanations) > 1 else explanations[0], default=str))
    else:
        print("\n\n".join(format_explanation(e) for e in explanations))
    return 0
