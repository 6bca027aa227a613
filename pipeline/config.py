"""The run configuration: one frozen dataclass per stage, loaded from YAML with overrides.

``pipeline/defaults.yaml`` holds every tunable with its default and the reason for it; the
dataclasses below are the schema. ``load_config`` rejects unknown keys and wrong types with a
:class:`ConfigError` whose message names the key and what to do.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import UserError

DEFAULTS_PATH = Path(__file__).with_name("defaults.yaml")


class ConfigError(UserError, ValueError):
    """A bad config value or key; the message says which and what to do."""


@dataclass(frozen=True)
class ExtractConfig:
    max_page_bytes: int = 5_000_000  # bodies past this (after decompression) drop as too_large
    max_dom_depth: int = 1_000
    page_timeout_s: float = 5.0
    min_text_chars: int = 200
    langs: tuple[str, ...] = ("en",)  # languages kept; empty = keep all
    min_lang_score: float = 0.5
    max_warc_record_bytes: int = 50_000_000  # compressed+uncompressed record cap while reading
    forum_threads: bool = True  # careful path: read forum / Q&A threads post by post
    fast_forum_threads: bool = True  # fast path too, on pages whose URL looks like a thread
    forum_post_min_words: int = 5  # careful path, thread URL, no engine: fast lines put back
    careful_max_bytes: int = 2_000_000  # careful path: larger non-thread pages get the fast text
    careful_max_inline_tags: int = 10_000  # ... and pages with more <b>/<i>/<em>/.. tags


@dataclass(frozen=True)
class CleanConfig:
    enabled: bool = True
    min_words: int = 50  # Gopher; a formula counts as its words
    min_words_with_math: int = 20  # pages with math (short definitions)
    math_min_formulas: int = 2  # formulas + worked-arithmetic lines that make a page "with math"
    max_words: int = 100_000
    min_mean_word_length: float = 3.0  # over prose words only (math excluded)
    max_mean_word_length: float = 10.0
    max_symbol_word_ratio: float = 0.1
    max_bullet_lines_ratio: float = 0.9
    max_ellipsis_lines_ratio: float = 0.3
    min_alpha_words_ratio: float = 0.8  # Gopher: words with a letter; formulas count as words
    min_stop_words: int = 2
    min_stop_words_with_math: int = 1  # worked solutions and theorems say little in stop words
    max_dup_line_frac: float = 0.3
    max_dup_para_frac: float = 0.3
    max_dup_line_char_frac: float = 0.2
    max_dup_para_char_frac: float = 0.2
    top_ngram_fracs: tuple[float, ...] = (0.2, 0.18, 0.16)  # n = 2, 3, 4
    dup_ngram_fracs: tuple[float, ...] = (0.15, 0.14, 0.13, 0.12, 0.11, 0.10)  # n = 5..10
    math_rich_formulas: int = 10  # formulas + worked steps that make a page "rich in math"
    ngram_scale_math_rich: float = 1.5  # Gopher's n-gram thresholds x this on such pages
    c4_curly_brace: bool = False  # off: drops every page with LaTeX ({} is TeX syntax)
    c4_javascript_lines: bool = True  # math-aware: only lines outside formulas
    c4_terminal_punct: bool = False  # off: display formulas and theorem labels end without '.'
    c4_policy_lines: bool = True
    c4_lorem_ipsum: bool = True
    c4_min_words_per_line: int = 0  # off: drops headings, labels, list items
    c4_max_word_length: int = 1000
    fineweb_lines: bool = True
    fineweb_line_punct_ratio: float = 0.12
    fineweb_short_line_chars: int = 30
    fineweb_short_line_ratio: float = 0.67
    fineweb_char_dup_ratio: float = 0.03  # FineWeb: 0.01 (see defaults.yaml)
    fineweb_char_dup_ratio_math_rich: float = 0.15  # pages rich in math
    fineweb_list_ratio: float = 0.3
    fineweb_line_ratios_with_math: bool = False  # short/punctuated line ratios on pages with math
    boilerplate_lines: bool = True
    boilerplate_min_pages: int = 5  # a line on this many pages of one domain is boilerplate
    url_blocklist: str = ""  # path to a file of domains/substrings; '' = bundled default
    url_allowlist: str = ""
    normalize_unicode: bool = True
    pii: bool = True
    math_tables: bool = True  # numbers in number rows of a page with math are math, not words
    thread_chrome_lines: bool = True  # threads' per-post chrome and quote copies removed
    thread_chrome_min_repeats: int = 3  # a chrome line recurs this often in one page
    thread_chrome_max_chars: int = 60  # chrome lines are at most this long
    thread_chrome_post_words: int = 5  # words between two chrome lines that make a post
    thread_quote_min_chars: int = 20  # later copies of prose lines this long are quotes
    thread_chrome_max_share: float = 0.5  # the rule removes nothing beyond this share of a page


@dataclass(frozen=True)
class DedupConfig:
    url_dedup: bool = True
    exact_text: bool = True
    near_dup: bool = True
    shingle_size: int = 5
    num_perm: int = 128
    threshold: float = 0.8
    bands: int = 0  # 0 = chosen from threshold and num_perm
    rows: int = 0
    seed: int = 1
    # exact Jaccard of LSH candidate pairs before linking: precision 1.0 on the bench set
    verify_jaccard: bool = True
    # with verify_jaccard, bands x rows are the cheapest reaching this P(candidate) at J =
    # threshold (issue 15: 14 x 9 gave 0.87 and missed 13 of 41 pairs at J 0.80-0.85)
    recall_at_threshold: float = 0.97
    # > 0: choose bands x rows by datasketch's weighted error instead; 0 = 0.5 without
    # verify_jaccard (unverified candidates are links: false positives cost precision)
    fn_weight: float = 0.0
    # bucket members still in different components after the star round are verified when
    # at most this many places apart (id order): exact for buckets of <= window + 1 members
    bucket_window: int = 50
    checkpoint_dir: str = ""  # '' = localCheckpoint in local mode, else <out>/_checkpoints
    max_cc_iterations: int = 30
    previous_runs: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecallConfig:
    iterations: int = 2
    dim: int = 256
    lr: float = 0.3  # DeepSeekMath 0.1 saw 1M docs x 3 epochs; small seed sets underfit at 0.1
    word_ngrams: int = 3
    min_count: int = 3
    epoch: int = 3
    threads: int = 0  # 0 = all cores
    max_positives: int = 500_000
    max_negatives: int = 500_000
    seeds: tuple[str, ...] = ()  # '' = bundled seeds; URIs of OpenWebMath-shaped JSONL/Parquet
    threshold: float = 0.5
    token_budget: int = 0  # 0 = select by threshold
    domain_share: float = 0.1
    path_accept_share: float = 0.5
    path_min_pages: int = 10
    accept_paths: str = ""
    stop_new_fraction: float = 0.02
    seed: int = 1
    bucket: int = 100_000  # fastText hash buckets; model bytes ~ 4*dim*(vocab+bucket)
    path_depth: int = 2  # URL path prefixes proposed down to this many directories
    bundled_negatives: bool = True  # add the bundled diverse non-math pages to crawl negatives
    negatives_skip_math: bool = True  # crawl negatives exclude docs with formulas/math markup
    max_words: int = 500  # words of a doc the classifier reads (bounds scoring cost)
    balance_classes: bool = True  # repeat the smaller class to the size of the larger one
    select_path_pages: bool = True  # pages under accepted URL paths are selected too


@dataclass(frozen=True)
class ExportConfig:
    careful: bool = True
    decontaminate: bool = True
    benchmarks: tuple[str, ...] = ()  # '' = bundled GSM8K test; entries URI or NAME=URI
    benchmark_fields: tuple[str, ...] = ("question", "answer", "problem", "solution", "text")
    ngram: int = 10
    min_exact_tokens: int = 3
    decontam_lowercase: bool = True
    decontam_strip_punctuation: bool = True
    tokenizer: str = ""  # path to tokenizer.json; '' = word count
    shard_bytes: int = 128_000_000
    shard_rows: int = 0
    shuffle_seed: int = -1  # -1 = no shuffle
    compression: str = "zstd"


@dataclass(frozen=True)
class ExpandConfig:
    # Common Crawl's columnar URL index (its table root); https://data.commoncrawl.org/... too
    index: str = "s3://commoncrawl/cc-index/table/cc-main/warc/"
    warc_root: str = ""  # where warc_filename is relative to; "" = the index's own root
    max_pages: int = 1_000_000  # hits per expansion; the driver holds them (~0.5 KB each)
    mimes: tuple[str, ...] = ("text/html", "application/xhtml+xml")  # content_mime_detected
    languages: bool = True  # keep captures whose content_languages meet extract.langs
    merge_gap_bytes: int = 65_536  # records this close in one WARC share one ranged read
    records_per_task: int = 500  # hits per Spark fetch task (one docs part file each)


@dataclass(frozen=True)
class SparkConfig:
    master: str = "local[*,4]"  # up to 4 attempts per task: a killed worker is retried
    app_name: str = "mathmine"
    driver_memory: str = "2g"
    executor_memory: str = "2g"
    conf: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IOConfig:
    s3_endpoint_url: str = ""
    # "" = AWS_REGION / AWS_DEFAULT_REGION, else the bucket's own region (infra.storage)
    s3_region: str = ""
    s3_max_attempts: int = 10
    https_prefix: str = "https://data.commoncrawl.org/"
    # Explicit credentials are optional (the SDKs' own chain is preferred); when set, both S3
    # clients of infra.storage (boto3 and pyarrow.fs) use them. Never printed or written:
    # run.json and --dry-run show '***', and `mathmine submit` refuses to upload them.
    aws_access_key_id: str = ""
    aws_secret_access_key: str = ""
    aws_session_token: str = ""


@dataclass(frozen=True)
class Config:
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    recall: RecallConfig = field(default_factory=RecallConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    expand: ExpandConfig = field(default_factory=ExpandConfig)
    spark: SparkConfig = field(default_factory=SparkConfig)
    io: IOConfig = field(default_factory=IOConfig)

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def _coerce(value: Any, typ: Any, key: str) -> Any:
    origin = typing.get_origin(typ)
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
    elif typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value.replace("_", ""))
            except ValueError:
                pass
    elif typ is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif typ is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    elif origin is tuple:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if isinstance(value, (list, tuple)):
            return tuple(_coerce(v, typing.get_args(typ)[0], key) for v in value)
    elif origin is dict:
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
    elif isinstance(typ, types.UnionType):
        return value
    raise ConfigError(
        f"config key {key!r}: expected {getattr(typ, '__name__', str(typ))}, got {value!r}; "
        f"fix the value in your config file or --set option"
    )


def _build(cls: type, values: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        full = f"{prefix}{key}"
        if key not in names:
            known = ", ".join(sorted(names))
            raise ConfigError(f"unknown config key {full!r}; known keys here: {known}")
        typ = hints[key]
        if dataclasses.is_dataclass(typ):
            if not isinstance(value, dict):
                raise ConfigError(f"config key {full!r} must be a mapping of its settings")
            kwargs[key] = _build(typ, value, f"{full}.")
        else:
            kwargs[key] = _coerce(value, typ, full)
    obj = cls(**kwargs)
    _validate(obj, prefix)
    return obj


def _validate(obj: Any, prefix: str) -> None:
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if f.name in ("shuffle_seed",):
                continue
            if v < 0:
                raise ConfigError(f"config key '{prefix}{f.name}' must be >= 0, got {v}")
    if isinstance(obj, DedupConfig):
        for key in ("threshold", "recall_at_threshold"):
            if not 0 < getattr(obj, key) < 1:
                raise ConfigError(
                    f"config key 'dedup.{key}' must be in (0, 1), got {getattr(obj, key)}"
                )
        if obj.bucket_window < 1:
            raise ConfigError(
                f"config key 'dedup.bucket_window' must be >= 1, got {obj.bucket_window}"
            )


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"dedup.threshold=0.7"`` -> (["dedup", "threshold"], 0.7 as YAML would read it)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. --set dedup.threshold=0.7")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults, then the YAML file at ``path``, then ``--set KEY=VALUE`` overrides."""
    merged: dict[str, Any] = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {str(p)!r} does not exist; pass an existing YAML file")
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            msg = f"config file {str(p)!r} is not valid YAML: {e}".splitlines()[0]
            raise ConfigError(msg) from None
        if not isinstance(data, dict):
            raise ConfigError(f"config file {str(p)!r} must be a mapping of sections")
        merged = data
    for ov in overrides or []:
        keys, value = parse_override(ov)
        d = merged
        for k in keys[:-1]:
            d = d.setdefault(k, {})
            if not isinstance(d, dict):
                raise ConfigError(f"--set {ov!r}: {k!r} is not a section")
        d[keys[-1]] = value
    return _build(Config, merged, "")


def defaults_yaml() -> dict[str, Any]:
    return yaml.safe_load(DEFAULTS_PATH.read_text())


# Keys whose values are secrets. Whole-word 'token' only: token_budget and tokenizer are not.
_SECRET_KEY = re.compile(
    r"(secret|password|passwd|credential|access[._-]?key|private[._-]?key|signature"
    r"|(^|[._-])token$)",
    re.I,
)


_SIGNED_QUERY = re.compile(
    r"(?i)([?&](?:x-amz-[a-z-]+|x-goog-[a-z-]+|signature|sig|token|awsaccesskeyid|expires)=)[^&\s]*"
)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@")


def redact_text(text: str) -> str:
    """Signed-URL query parameters and user:password@ parts of URIs replaced by '***'."""
    return _USERINFO.sub(r"\1***@", _SIGNED_QUERY.sub(r"\1***", text))


def redact(d: Any, key: str = "") -> Any:
    """A copy of ``d`` with values under secret-looking keys replaced by '***'."""
    if isinstance(d, dict):
        return {k: redact(v, k) for k, v in d.items()}
    if isinstance(d, list):
        return [redact(v, key) for v in d]
    if _SECRET_KEY.search(key) and d not in ("", None):
        return "***"
    if isinstance(d, str):
        return redact_text(d)
    return d
