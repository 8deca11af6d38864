from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.settings import Settings, config_path, default_home, field_docs, load_settings


def test_precedence_defaults_file_env_overrides(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('temperature = 0.2\nn_ctx = 1024\nmax_tokens = 64\nmodel = "from-file"\n')
    env = {"LOREBOOK_N_CTX": "2048", "LOREBOOK_MODEL": "from-env", "LOREBOOK_HOME": str(tmp_path)}
    s = load_settings({"model": "from-flag", "top_k": None}, env=env, config_file=cfg)
    assert s.temperature == 0.2  # file beats default
    assert s.n_ctx == 2048  # env beats file
    assert s.model == "from-flag"  # override beats env
    assert s.top_k == Settings().top_k  # a None override does not mask lower layers
    assert s.max_tokens == 64
    assert s.home == tmp_path


def test_config_file_found_under_lorebook_home(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("seed = 7\n")
    env = {"LOREBOOK_HOME": str(tmp_path)}
    assert config_path(env) == tmp_path / "config.toml"
    assert load_settings(env=env).seed == 7


def test_xdg_defaults() -> None:
    env = {"XDG_DATA_HOME": "/data", "XDG_CONFIG_HOME": "/cfg"}
    assert default_home(env) == Path("/data/lorebook")
    assert config_path(env) == Path("/cfg/lorebook/config.toml")


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"LOREBOOK_N_CTX": "lots"}, "n_ctx"),
        ({"LOREBOOK_OVERFLOW": "explode"}, "'error', 'truncate'"),
        ({"LOREBOOK_VERBOSE": "maybe"}, "true or false"),
        ({"LOREBOOK_TOP_P": "0"}, "top_p"),
        ({"LOREBOOK_TEMPERATURE": "-1"}, "temperature"),
    ],
)
def test_bad_environment_values_are_config_errors(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_settings(env=env, config_file=Path("/nonexistent"))


def test_unknown_key_in_config_file_lists_valid_ones(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("temprature = 1\n")
    with pytest.raises(ConfigError, match="unknown setting.*temprature.*valid settings"):
        load_settings(env={}, config_file=cfg)


def test_corrupt_config_file_names_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("n_ctx = = 3\n")
    with pytest.raises(ConfigError, match=str(cfg)):
        load_settings(env={}, config_file=cfg)


def test_settings_are_frozen_and_replace_validates() -> None:
    s = load_settings(env={}, config_file=Path("/nonexistent"))
    with pytest.raises(AttributeError):
        s.n_ctx = 5  # type: ignore[misc]
    assert s.replace(n_ctx="4096").n_ctx == 4096
    with pytest.raises(ConfigError):
        s.replace(n_ctx=1)


def test_every_field_is_documented() -> None:
    assert all(doc for doc in field_docs().values())
