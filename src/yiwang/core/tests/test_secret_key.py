"""The installation's secret key: made once per installation, never a published or weak one."""

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from yiwang.core.checks import secret_key_check
from yiwang.core.secret_key import installation_key, secret_key

STRONG = "a-strong-KEY-of-fifty-characters-made-for-a-test-9"  # 50 characters
WEAK = [
    "dev-only-insecure-key-change-me-in-production",  # yiwang 0.1's published default
    "",
    "django-insecure-" + "x7" * 30,
    "s3cret-but-only-thirty-one-char",
    "ab" * 40,  # long, but two different characters
]
YIWANG = Path(sys.executable).parent / "yiwang"


def test_the_first_run_writes_a_private_key_and_reuses_it(tmp_path):
    var = tmp_path / "var"  # not there yet, as on a fresh checkout
    key = secret_key(None, var)
    path = var / "secret_key"
    assert path.read_text().strip() == key and len(key) >= 50
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_key(None, var) == key
    assert os.listdir(var) == ["secret_key"], "no draft is left beside it"


def test_installations_get_different_keys(tmp_path):
    assert installation_key(tmp_path / "a") != installation_key(tmp_path / "b")


def test_processes_starting_together_end_with_one_key(tmp_path):
    go = tmp_path / "go"
    var = tmp_path / "var"
    code = ("import sys, time\nfrom pathlib import Path\nfrom yiwang.core.secret_key import installation_key\n"
            "while not Path(sys.argv[1]).exists(): time.sleep(0.001)\n"
            "print(installation_key(Path(sys.argv[2])))")
    starting = [subprocess.Popen([sys.executable, "-c", code, str(go), str(var)], stdout=subprocess.PIPE, text=True)
                for _ in range(6)]
    time.sleep(1)  # every process has imported and waits
    go.touch()
    keys = {p.communicate(timeout=30)[0].strip() for p in starting}
    assert all(p.returncode == 0 for p in starting)
    assert keys == {(var / "secret_key").read_text().strip()}
    assert os.listdir(var) == ["secret_key"]


def test_a_strong_key_from_the_environment_is_used_and_nothing_is_written(tmp_path):
    assert secret_key(STRONG, tmp_path / "var") == STRONG
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize("key", WEAK)
def test_a_known_or_weak_secret_key_in_the_environment_is_refused_with_the_fix(tmp_path, key):
    with pytest.raises(ImproperlyConfigured, match=r"YIWANG_SECRET_KEY is refused: .*secrets\.token_urlsafe\(50\)"):
        secret_key(key, tmp_path)


@pytest.mark.parametrize("key", WEAK)
def test_a_weak_key_in_the_file_is_refused_with_the_fix(tmp_path, key):
    (tmp_path / "secret_key").write_text(key + "\n")
    with pytest.raises(ImproperlyConfigured, match=r"secret_key holds a key that is refused: .*Delete the file"):
        secret_key(None, tmp_path)


def test_a_var_directory_that_cannot_be_written_asks_for_the_key(tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ImproperlyConfigured, match=r"cannot write .* or set YIWANG_SECRET_KEY"):
        secret_key(None, tmp_path / "a-file" / "var")


def test_a_known_secret_key_refuses_to_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIWANG_")}
    env.update(YIWANG_SECRET_KEY=WEAK[0], YIWANG_VAR_DIR=str(tmp_path), YIWANG_DATABASE_URL="sqlite://")
    for command in (["check"], ["serve", "--no-collectstatic", "--port", "1"]):
        done = subprocess.run([str(YIWANG), *command], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1
        assert "YIWANG_SECRET_KEY is refused: it is the default published in yiwang's source" in done.stderr
        assert "Traceback" not in done.stderr and "serving" not in done.stdout
    assert not (tmp_path / "secret_key").exists()


def test_the_system_check_refuses_a_weak_key_set_another_way(settings):
    assert secret_key_check(None) == []
    settings.SECRET_KEY = WEAK[0]
    [error] = secret_key_check(None)
    assert error.id == "yiwang.E001" and "YIWANG_SECRET_KEY" in error.hint
