"""The benchmarks' machine sampler: /proc/stat's CPU times turned into shares per second."""

from bench.common import CpuTimes, LoadResult, machine_report, per_second

STAT = "cpu  100 5 20 800 10 1 4 60 0 0\ncpu0 50 2 10 400 5 0 2 30 0 0\n"


def test_cpu_times_are_read_from_the_first_line() -> None:
    times = CpuTimes.parse(STAT)
    assert times == CpuTimes(busy=100 + 5 + 20 + 1 + 4, iowait=10, steal=60,
                             total=130 + 800 + 10 + 60)


def test_shares_are_of_all_the_cpu_time_between_two_readings() -> None:
    before = CpuTimes(busy=100, iowait=10, steal=0, total=1000)
    after = CpuTimes(busy=150, iowait=20, steal=40, total=1200)
    assert after.share(before) == (0.25, 0.2, 0.05)


def test_each_whole_second_runs_from_its_first_sample_to_the_next_seconds_first() -> None:
    def at(busy: int, steal: int, total: int) -> CpuTimes:
        return CpuTimes(busy=busy, iowait=0, steal=steal, total=total)

    samples = [(9.9, at(0, 0, 0)),  # before the run: not counted
               (10.0, at(10, 0, 100)), (10.5, at(60, 0, 150)),
               (11.0, at(110, 0, 200)), (11.5, at(120, 50, 300)),
               (12.0, at(130, 100, 400)),
               (13.2, at(230, 100, 500))]  # second 3: no next second yet
    assert per_second(samples, start=10.0) == {0: (1.0, 0.0, 0.0), 1: (0.1, 0.5, 0.0),
                                               2: (1.0, 0.0, 0.0)}


def test_the_report_sets_the_slow_seconds_apart() -> None:
    seconds = {0: (0.5, 0.0, 0.0), 1: (0.9, 0.3, 0.01), 2: (0.7, 0.1, 0.0),
               3: (0.1, 0.9, 0.0)}  # after the run: not counted
    result = LoadResult(sent=3, errors=0, duration_s=3.0, latencies_ms=[10, 80, 12],
                        timeline=[(0.1, 10), (1.2, 80), (2.3, 12)], started=5.0)
    report = machine_report(seconds, result)
    assert "in the slow seconds CPU busy 90%, steal 30.0%, iowait 1.0%" in report
    assert "in the others CPU busy 60%, steal 5.0%, iowait 0.0%" in report
    assert "highest steal in one second 30%" in report
    assert report.endswith("seconds with steal over 10%: 2, p99 of the requests started in the "
                           "other seconds 10.0 ms (1 requests)")
