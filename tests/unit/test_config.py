import stat

import pytest

from oms.config import ConfigError, Settings


def test_the_embedded_default_generates_a_secret_once_and_keeps_it_private(tmp_path):
    first = Settings(data_dir=tmp_path).resolved_secret_key()
    again = Settings(data_dir=tmp_path).resolved_secret_key()
    assert first == again and len(first) >= 40
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_the_default_database_is_sqlite_in_the_data_directory(tmp_path):
    assert Settings(data_dir=tmp_path).resolved_database_url() == f"sqlite:///{tmp_path / 'oms.db'}"


def test_production_needs_an_explicit_secret(tmp_path):
    with pytest.raises(ConfigError, match="OMS_SECRET_KEY"):
        Settings(env="production", data_dir=tmp_path).resolved_secret_key()
    assert Settings(env="production", data_dir=tmp_path, secret_key="s" * 40).resolved_secret_key() == "s" * 40


def test_settings_come_from_oms_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("OMS_DATABASE_URL", "postgresql+psycopg://oms@db/oms")
    monkeypatch.setenv("OMS_THREADS", "6")
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url() == "postgresql+psycopg://oms@db/oms"
    assert settings.threads == 6
