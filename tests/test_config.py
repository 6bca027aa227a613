"""The config schema, its YAML defaults, overrides and the errors for bad values."""

import copy
import dataclasses

import pytest
import yaml

from pipeline.config import DEFAULTS_PATH, Config, ConfigError, defaults_yaml, load_config, redact


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
        (["extract.max_page_bytes=-1"], "must be >= 0"),
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
