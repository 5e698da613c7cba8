"""The checker of 00_start_here: PASS for the right answer, FAIL with a hint otherwise."""


from nodebook_utils import checks
from nodebook_utils.config import get_settings


def test_check_device_summary(capsys):
    device = get_settings().device
    assert checks.check_device_summary("ex", lambda: device.type)
    assert not checks.check_device_summary("ex", lambda: device)  # a torch.device, not a str
    assert "not a string" in capsys.readouterr().out
    other = "cuda" if device.type == "cpu" else "cpu"
    assert not checks.check_device_summary("ex", lambda: other)
    assert "cfg.device.type" in capsys.readouterr().out
    assert not checks.check_device_summary("ex", lambda: ...)
