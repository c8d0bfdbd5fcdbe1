import optuna
import pytest

from spaces.domain import Choice, Range, parse_domain, suggest


def test_parse_scalar_list_and_range() -> None:
    assert parse_domain("f", 0.5) == Choice((0.5,))
    assert parse_domain("f", [2, 4], kind=int) == Choice((2, 4))
    assert parse_domain("f", {"low": 1e-3, "high": 1e-1, "log": True}) == Range(1e-3, 1e-1, True)


@pytest.mark.parametrize(
    ("raw", "kind", "message"),
    [
        ([], int, "empty"),
        ({"low": 2, "high": 1}, float, "must not exceed"),
        ({"low": 0, "high": 1, "log": True}, float, "log range"),
        ({"low": 0}, float, "needs exactly"),
        (["a"], int, "expected an integer"),
        ([1, 1], int, "duplicates"),
        (1, bool, "true or false"),
    ],
)
def test_parse_errors_name_the_field(raw: object, kind: type, message: str) -> None:
    with pytest.raises(ValueError, match=rf"^space\.x: .*{message}"):
        parse_domain("space.x", raw, kind=kind)


def test_fixed_choice_is_not_suggested() -> None:
    trial = optuna.create_study().ask()
    assert suggest(trial, "a", Choice((3,))) == 3
    assert suggest(trial, "b", Choice((1, 2))) in (1, 2)
    value = suggest(trial, "c", Range(0.1, 0.2))
    assert 0.1 <= value <= 0.2
    assert set(trial.params) == {"b", "c"}
