"""The config schema, its YAML defaults, overrides and the errors for bad values."""

import ast
import copy
import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from pipeline.config import (
    DEFAULTS_PATH,
    RETIRED_KEYS,
    Config,
    ConfigError,
    Range,
    accepted,
    check_values,
    load_config,
    redact,
    sections,
)
from pipeline.defaults_yaml import read as defaults_yaml
from pipeline.defaults_yaml import render, value_text

REPO = Path(__file__).resolve().parents[1]


def config_differences(yaml_cfg: dict, code_cfg: dict) -> list[str]:
    """Every disagreement between the YAML defaults and the dataclass defaults: a section or key
    in one only, or a value that differs in value or in type (``1`` is not ``True``, ``5`` not
    ``5.0``: YAML would hand a user's file the wrong type)."""
    out = []
    for section in sorted(set(yaml_cfg) | set(code_cfg)):
        if section not in code_cfg or section not in yaml_cfg:
            where = "defaults.yaml" if section in yaml_cfg else "the dataclasses"
            out.append(f"{section}: only in {where}")
            continue
        y, c = yaml_cfg[section] or {}, code_cfg[section]
        for key in sorted(set(y) | set(c)):
            name = f"{section}.{key}"
            if key not in c or key not in y:
                out.append(f"{name}: only in {'defaults.yaml' if key in y else 'the dataclasses'}")
            elif type(y[key]) is not type(c[key]) or y[key] != c[key]:
                out.append(f"{name}: defaults.yaml {y[key]!r}, dataclass {c[key]!r}")
    return out


def test_defaults_yaml_matches_dataclasses():
    """Every tunable is in defaults.yaml with the dataclass default, and nothing else is."""
    assert config_differences(defaults_yaml(), Config().to_dict()) == []
    # and the YAML file read through the schema (coercion, validation) gives the same object
    assert load_config(DEFAULTS_PATH) == Config()


def test_the_defaults_comparison_finds_each_kind_of_drift():
    """The check above can fail: a changed value, a bool written as an int, a key or a
    section on one side only, each found and named."""
    yaml_cfg = copy.deepcopy(defaults_yaml())
    code_cfg = Config().to_dict()
    yaml_cfg["dedup"]["threshold"] = 0.7
    yaml_cfg["clean"]["enabled"] = 1
    del yaml_cfg["recall"]["lr"]
    yaml_cfg["export"]["shard_rowz"] = 5
    yaml_cfg["nosuch"] = {"a": 1}
    del code_cfg["spark"]
    assert config_differences(yaml_cfg, code_cfg) == [
        "clean.enabled: defaults.yaml 1, dataclass True",
        "dedup.threshold: defaults.yaml 0.7, dataclass 0.8",
        "export.shard_rowz: only in defaults.yaml",
        "nosuch: only in defaults.yaml",
        "recall.lr: only in the dataclasses",
        "spark: only in defaults.yaml",
    ]


def test_file_and_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text(yaml.safe_dump({"dedup": {"threshold": 0.7}, "extract": {"langs": ["en", "de"]}}))
    cfg = load_config(f, ["dedup.num_perm=64", "spark.master=local[1]", "extract.langs=fr"])
    assert cfg.dedup.threshold == 0.7
    assert cfg.dedup.num_perm == 64
    assert cfg.spark.master == "local[1]"
    assert cfg.extract.langs == ("fr",)
    assert dataclasses.is_dataclass(cfg) and cfg.clean == Config().clean


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["dedup.treshold=0.7"], "unknown config key 'dedup.treshold'"),
        (["nosuch.key=1"], "unknown config key 'nosuch'"),
        (["dedup.num_perm=many"], "'dedup.num_perm': expected int"),
        (["clean.enabled=maybe"], "'clean.enabled': expected bool"),
        (["dedup.threshold=1.5"], "'dedup.threshold' must be in (0, 1)"),
        (["extract.max_page_bytes=-1"], "must be >= 1"),
        (["dedup"], "expected KEY=VALUE"),
    ],
)
def test_bad_values_name_the_key(overrides, message):
    with pytest.raises(ConfigError) as e:
        load_config(None, overrides)
    assert message in str(e.value)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("dedup: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(listy)


def test_redact_hides_secret_looking_values():
    d = {"io": {"aws_secret_access_key": "abc", "s3_endpoint_url": "http://x"}, "token": "t"}
    r = redact(d)
    assert r["io"]["aws_secret_access_key"] == "***" and r["token"] == "***"
    assert r["io"]["s3_endpoint_url"] == "http://x"
    # settings that merely mention tokens are not secrets
    kept = {"token_budget": 5, "tokenizer": "t.json", "aws_session_token": "s"}
    assert redact(kept) == {"token_budget": 5, "tokenizer": "t.json", "aws_session_token": "***"}


# --------------------------------------------------------------------------------------------
# defaults.yaml is the schema rendered: same keys, same defaults, the comments are the whys
# --------------------------------------------------------------------------------------------


def yaml_comments(text: str) -> dict[str, str]:
    """``{section.key: the comment on its line}`` of a defaults.yaml text (keys without a
    comment map to ''), read line by line: YAML parsers drop comments."""
    out, section = {}, None
    for line in text.splitlines():
        m = re.match(r"^(\w+):", line)
        if m:
            section = m[1]
            continue
        m = re.match(r"^  (\w+): (.*)$", line)
        if m:
            rest = m[2]
            if rest.startswith('"'):  # a quoted value may hold ' # '
                rest = rest[len(re.match(r'"(?:[^"\\]|\\.)*"', rest)[0]) :]
            out[f"{section}.{m[1]}"] = rest.split(" # ", 1)[1] if " # " in rest else ""
    return out


def schema_whys() -> dict[str, str]:
    return {
        f"{name}.{f.name}": f.metadata["why"]
        for name, cls in sections()
        for f in dataclasses.fields(cls)
    }


def test_defaults_yaml_is_the_schema_rendered():
    """The file in the repository is what ``make defaults-yaml`` writes: a default or a reason
    changed in the schema and not regenerated fails here."""
    assert DEFAULTS_PATH.read_text() == render(), (
        "pipeline/defaults.yaml is stale: run make defaults-yaml"
    )


def test_defaults_yaml_comments_are_the_schema_whys():
    """Read from the real file, independently of the renderer: every key's comment is its
    ``why``, and every key of the schema has one."""
    comments = yaml_comments(DEFAULTS_PATH.read_text())
    whys = schema_whys()
    assert comments == whys
    assert all(whys.values()), [k for k, v in whys.items() if not v]


def test_a_stale_defaults_yaml_is_caught():
    """Each kind of drift in the file is found by one of the checks above: a key missing, a
    default changed, a comment changed, an extra key."""
    text = DEFAULTS_PATH.read_text()
    code = Config().to_dict()
    missing = "\n".join(ln for ln in text.splitlines() if not ln.startswith("  bucket_window:"))
    assert config_differences(yaml.safe_load(missing), code) == [
        "dedup.bucket_window: only in the dataclasses"
    ]
    changed = text.replace("  bucket: 100000 ", "  bucket: 2000000 ")
    assert changed != text
    assert config_differences(yaml.safe_load(changed), code) == [
        "recall.bucket: defaults.yaml 2000000, dataclass 100000"
    ]
    reworded = text.replace("# target Jaccard", "# a Jaccard")
    assert reworded != text and yaml.safe_load(reworded) == yaml.safe_load(text)
    diff = {k for k, v in yaml_comments(reworded).items() if schema_whys()[k] != v}
    assert diff == {"dedup.threshold"}
    extra = text.replace("\nio:", '\nio:\n  aws_profile: ""  # not a key', 1)
    assert "io.aws_profile: only in defaults.yaml" in config_differences(
        yaml.safe_load(extra), code
    )


@pytest.mark.parametrize(
    "value",
    ["", "local[*,4]", "2g", "yes", "null", "123", "a: b", "x # y", 'q"uote', 0.1, 1e-05, -1, True],
)
def test_rendered_values_read_back_as_themselves(value):
    text = value_text(value)
    back = yaml.safe_load(f"k: {text}  # comment")["k"]
    assert back == value and type(back) is type(value), text


# --------------------------------------------------------------------------------------------
# The schema: every key says why and what it accepts, and load_config holds values to it
# --------------------------------------------------------------------------------------------


def test_every_numeric_key_has_a_range_and_every_default_is_accepted():
    for name, cls in sections():
        for f in dataclasses.fields(cls):
            kind = f.type if isinstance(f.type, str) else f.type.__name__
            if kind in ("int", "float", "tuple[float, ...]"):
                assert f.metadata["range"] is not None, f"{name}.{f.name} has no range"
                f.metadata["range"].bounds()  # parses
    # every default is inside its own range and choices (check_values raises otherwise)
    for name, _ in sections():
        check_values(getattr(Config(), name), f"{name}.")


@pytest.mark.parametrize(
    "text, inside, outside",
    [
        (">= 1", [1, 7, 1e12], [0, 0.99, -1]),
        ("> 0", [1e-9, 3], [0, -1]),
        ("[0, 1]", [0, 0.5, 1], [-0.01, 1.01]),
        ("(0, 1)", [0.01, 0.99], [0, 1]),
        ("[0, 1)", [0, 0.99], [1, -0.1]),
        (">= -1", [-1, 0], [-2]),
    ],
)
def test_range_bounds(text, inside, outside):
    r = Range(text)
    assert all(v in r for v in inside)
    assert not any(v in r for v in outside)


@pytest.mark.parametrize(
    "override, message",
    [
        # scalar ranges: the key, what it accepts, the value given
        ("dedup.threshold=0", "config key 'dedup.threshold' must be in (0, 1), got 0.0"),
        ("dedup.threshold=1", "config key 'dedup.threshold' must be in (0, 1), got 1.0"),
        ("dedup.fn_weight=1", "config key 'dedup.fn_weight' must be in [0, 1), got 1.0"),
        ("recall.lr=0", "config key 'recall.lr' must be > 0, got 0.0"),
        ("recall.bucket=0", "config key 'recall.bucket' must be >= 1, got 0"),
        ("recall.threshold=1.2", "config key 'recall.threshold' must be in [0, 1], got 1.2"),
        ("clean.boilerplate_min_pages=1", "'clean.boilerplate_min_pages' must be >= 2, got 1"),
        ("export.shuffle_seed=-2", "config key 'export.shuffle_seed' must be >= -1, got -2"),
        ("io.s3_max_attempts=0", "config key 'io.s3_max_attempts' must be >= 1, got 0"),
        # lists: each item, and how many
        (
            "clean.top_ngram_fracs=[0.2,1.5]",
            "'clean.top_ngram_fracs' must be at most 3 items, each in [0, 1], got [0.2, 1.5]",
        ),
        (
            "clean.top_ngram_fracs=[0.2,0.18,0.16,0.1]",
            "'clean.top_ngram_fracs' must be at most 3 items, each in [0, 1], got [0.2",
        ),
        # choices
        (
            "export.compression=zip",
            "'export.compression' must be one of zstd, snappy, gzip, brotli, lz4, none, got 'zip'",
        ),
    ],
)
def test_out_of_range_values_name_key_range_and_value(override, message):
    with pytest.raises(ConfigError) as e:
        load_config(None, [override])
    assert message in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "override",
    [
        "dedup.fn_weight=0",
        "export.shuffle_seed=-1",
        "recall.threshold=1",
        "clean.top_ngram_fracs=[0.3]",
        "export.compression=none",
        "extract.page_timeout_s=0",
    ],
)
def test_values_at_the_edges_are_accepted(override):
    load_config(None, [override])


def test_range_checks_apply_to_config_files_too(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("recall:\n  domain_share: 2\n")
    with pytest.raises(ConfigError, match=r"'recall.domain_share' must be in \[0, 1\], got 2.0"):
        load_config(f)


def test_accepted_words_for_each_kind():
    fields = {f"{n}.{f.name}": f for n, cls in sections() for f in dataclasses.fields(cls)}
    assert accepted(fields["dedup.threshold"]) == "in (0, 1)"
    assert accepted(fields["recall.bucket"]) == ">= 1"
    assert accepted(fields["clean.dup_ngram_fracs"]) == "at most 6 items, each in [0, 1]"
    assert accepted(fields["export.compression"]).startswith("one of zstd, ")
    assert accepted(fields["spark.master"]) == ""


# --------------------------------------------------------------------------------------------
# Keys an older config may still set
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("old, new", sorted(RETIRED_KEYS.items()))
def test_retired_keys_are_refused_with_their_replacement(tmp_path, old, new):
    """A config written before a rename is not silently run with the default."""
    section, key = old.split(".")
    f = tmp_path / "old.yaml"
    f.write_text(f"{section}:\n  {key}: false\n")
    with pytest.raises(ConfigError) as e:
        load_config(f)
    assert f"config key {old!r} was {new}" in str(e.value)
    with pytest.raises(ConfigError, match=re.escape(new)):
        load_config(None, [f"{old}=1"])
    # the replacement is a real key
    replacement = new.split()[-1]
    assert replacement.split(".")[1] in Config().to_dict()[replacement.split(".")[0]]


# --------------------------------------------------------------------------------------------
# No second default in the code
# --------------------------------------------------------------------------------------------

CONFIG_KEYS = {f.name for _, cls in sections() for f in dataclasses.fields(cls)}


def getattr_defaults(source: str, filename: str = "<src>") -> list[str]:
    """``getattr(obj, "key", default)`` calls whose key is a config key: a second default."""
    out = []
    for node in ast.walk(ast.parse(source, filename)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) == 3
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in CONFIG_KEYS
        ):
            out.append(f"{filename}:{node.lineno} getattr(..., {node.args[1].value!r}, ...)")
    return out


def test_the_getattr_scan_finds_a_second_default():
    src = 'def f(cfg):\n    return getattr(cfg, "bucket", 2_000_000), getattr(cfg, "url", 1)\n'
    assert getattr_defaults(src) == ["<src>:2 getattr(..., 'bucket', ...)"]


def test_no_getattr_with_a_default_on_config_keys():
    """Code reads ``cfg.key``: a getattr default would be a second default that can drift
    (fastText's bucket once was 2,000,000 there and 100,000 in the config)."""
    found = []
    for folder in ("classifiers", "jobs", "pipeline", "infra", "benchmarks", "tools"):
        for path in sorted((REPO / folder).rglob("*.py")):
            found += getattr_defaults(path.read_text(), str(path.relative_to(REPO)))
    assert found == []
