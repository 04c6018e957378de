import pytest

from inference.calibration import apply_calibration


def test_identity_without_calibrator():
    assert apply_calibration(None, 0.42) == 0.42


def test_platt_is_a_sigmoid_of_the_score():
    params = {"method": "platt", "a": 10.0, "b": -5.0}
    assert apply_calibration(params, 0.5) == pytest.approx(0.5)
    assert apply_calibration(params, 0.9) > 0.98 and apply_calibration(params, 0.1) < 0.02


def test_isotonic_interpolates_between_steps():
    params = {"method": "isotonic", "x": [0.0, 0.5, 1.0], "y": [0.0, 0.2, 1.0]}
    assert apply_calibration(params, 0.75) == pytest.approx(0.6)


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown calibration method 'beta'"):
        apply_calibration({"method": "beta"}, 0.5)
