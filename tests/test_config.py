"""Config loading: YAML + overrides into typed configs, one-line errors, exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from darklens.cli import main
from darklens.config import apply_overrides, load_yaml
from darklens.errors import DarklensError
from darklens.simulate.config import load_sim_config, resolved_yaml
from tests.conftest import tiny


def test_overrides_are_typed_dotted_and_yaml_parsed():
    data = apply_overrides(tiny(), ["params.z_lens=0.4", "substructure.kind=cdm",
                                    "params.f_sub={uniform: [0, 0.2]}", "n=1e3"])
    cfg = load_sim_config(data)
    assert cfg.priors["z_lens"].sample(None) == 0.4
    assert cfg.kind == "cdm" and cfg.params["f_sub"] == {"uniform": [0.0, 0.2]}
    assert cfg.n == 1000 and isinstance(cfg.n, int)


def test_resolved_config_round_trips():
    cfg = load_sim_config(tiny("vortex"))
    again = load_sim_config(__import__("yaml").safe_load(resolved_yaml(cfg)))
    assert resolved_yaml(again) == resolved_yaml(cfg)
    assert "vortex_mass_fraction" in again.params  # defaults are written out


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["colour=red"], "colour: unknown key; expected one of n, seed"),
        (["supersampling=two"], "supersampling: expected an integer, got 'two'"),
        (["supersampling=0"], "supersampling: expected a value >= 1, got 0"),
        (["params.f_sub=0.1"], "params.f_sub: is not used by this config"),
        (["params.theta_E=1"], "params.theta_E: is derived, not sampled"),
        (["params.halo_q={uniform: [0.5, 1.5]}"], "params.halo_q: prior {'uniform': [0.5, 1.5]} "
         "reaches [0.5, 1.5] but halo axis ratio must lie in [0.2, 1]"),
        (["params.halo_q={gauss: 1}"], "params.halo_q: expected one of fixed, uniform"),
        (["params.halo_q={uniform: [1]}"], "params.halo_q: uniform expects [low, high]"),
        (["substructure.kind=wdm"], "substructure.kind: expected one of none, cdm"),
        (["substructure.kind=cdm", "substructure.profile=nfw"],
         "substructure.profile: expected one of point_mass, tnfw, got 'nfw'"),
        (["substructure.kind=cdm", "substructure.m_min=1e11"],
         "substructure.m_min: must not exceed m_max"),
        (["instrument=kepler"], "instrument: expected one of deeplense-model1, deeplense-model2"),
        (["instrument.psf_fwhm=-1"], "instrument.psf_fwhm: expected a value >= 0"),
        (["params.z_source=0.3"], "params.z_source: every z_source must exceed every z_lens"),
    ],
)
def test_bad_config_gives_one_line_naming_the_field(overrides, message):
    with pytest.raises(DarklensError) as info:
        load_sim_config(apply_overrides(tiny(), overrides))
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_bad_yaml_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("n: [1, 2\n")
    with pytest.raises(DarklensError, match=r"bad.yaml: not valid YAML \(line"):
        load_yaml(path)
    with pytest.raises(DarklensError, match="config file not found"):
        load_yaml(tmp_path / "missing.yaml")


def test_cli_error_is_one_line_exit_2(tmp_path, capsys):
    code = main(["simulate", "configs/sim/demo.yaml", "--out", str(tmp_path / "x.h5"),
                 "--set", "params.log10_halo_mass=banana"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("darklens: error: params.log10_halo_mass")
    assert not (tmp_path / "x.h5").exists()


def test_cli_process_has_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "darklens", "simulate", "configs/sim/demo.yaml", "--out",
         str(tmp_path / "x.h5"), "--set", "substructure.kind=wdm"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("darklens: error: substructure.kind")
