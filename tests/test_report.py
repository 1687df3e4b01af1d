"""Report formatting: what an instructor reads."""
from autograder.report import blank_numbers, points


def test_points_are_written_as_people_write_them():
    assert [points(x) for x in (12.0, 10.4, 15.571428, 0.0, 2.5)] == ["12", "10.4", "15.57", "0", "2.5"]


def test_failure_causes_keep_the_label_and_blank_the_message_numbers():
    a = "FAIL  forward, N=1, T=5: max relative error 3.1e-02 > tolerance 1e-07"
    b = "FAIL  forward, N=1, T=5: max relative error 8.0e-01 > tolerance 1e-07"
    assert blank_numbers(a) == blank_numbers(b) == "FAIL  forward, N=1, T=5: max relative error # > tolerance #"
    assert blank_numbers("NameError: name 'x2' is not defined") == "NameError: name 'x#' is not defined"
