"""The config schema, its YAML defaults, overrides and the errors for bad values."""

import dataclasses

import pytest
import yaml

from pipeline.config import Config, ConfigError, defaults_yaml, load_config, redact


def test_defaults_yaml_matches_dataclasses():
    """Every tunable is in defaults.yaml with the dataclass default, and nothing else is."""
    yaml_cfg = defaults_yaml()
    code_cfg = Config().to_dict()
    assert set(yaml_cfg) == set(code_cfg)
    for section, values in code_cfg.items():
        assert set(yaml_cfg[section]) == set(values), section
        for key, value in values.items():
            assert yaml_cfg[section][key] == value, f"{section}.{key}"
    # and loading the YAML through the schema gives the same object
    assert load_config(None) == Config()


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
