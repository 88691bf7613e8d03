"""`policyqa bench` end to end on a small size, with the real model and the bundled corpus."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from app import bench, store
from app.cli import cli


def test_bench_prints_the_table_against_exact_search(engine, tmp_path):
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(cli, ["bench", "--sizes", "1000", "--incremental-files", "0", "--questions", "10",
                                      "--index", str(engine.index_dir), "--workers", "0", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "rec@10" in result.stdout and "synthetic" in result.stdout
    figures = json.loads(out.read_text())
    assert [(r["corpus"], r["kind"]) for r in figures["rows"]] == [("real", "flat"), ("synthetic", "flat")]
    assert figures["rows"][1]["rows"] == 1000 and figures["rows"][1]["recall_at_10"] == 1.0
    assert figures["incremental"] is None and figures["backend"] == "onnx"


def test_startup_bench_measures_each_backend_against_pytorch_in_one_run(engine, tmp_path):
    out = tmp_path / "startup.json"
    result = CliRunner().invoke(cli, ["bench", "--startup", "--runs", "1", "--policies", "2", "--json", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert list(figures["backends"]) == ["onnx", "torch"] and figures["baseline"] == "torch"
    for backend, measured in figures["backends"].items():
        assert {key for key, _, _ in bench.STARTUP_ROWS} <= set(measured), backend
        assert all(measured[key] > 0 for key, _, _ in bench.STARTUP_ROWS if key != "export_s"), measured
        assert measured["texts"] == len(engine.index.clauses) + sum(
            len(store.sentence_texts_for_search(c)) for c in engine.index.clauses)
    assert figures["backends"]["onnx"]["export_s"] > 0 and figures["backends"]["torch"]["export_s"] is None
    onnx, torch = figures["backends"]["onnx"], figures["backends"]["torch"]
    assert figures["ratio"]["onnx"]["ask_s"] == round(onnx["ask_s"] / torch["ask_s"], 3)
    assert "export_s" not in figures["ratio"]["onnx"]
    lines = result.stdout.splitlines()
    assert "torch the baseline" in lines[0] and lines[1].split() == ["onnx", "torch", "onnx/torch"]
    assert len(lines) == 2 + len(bench.STARTUP_ROWS)


def test_the_throughput_part_runs_on_its_own_with_one_and_two_workers(engine, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "ROUND_S", 3.0)
    monkeypatch.setattr(bench, "ROUNDS", 1)
    out = tmp_path / "throughput.json"
    result = CliRunner().invoke(cli, ["bench", "--only-throughput", "--workers", "1,2", "--index", str(engine.index_dir),
                                      "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "answers/s" in result.stdout and "rec@10" not in result.stdout
    figures = json.loads(out.read_text())["throughput"]
    assert [f["workers"] for f in figures] == [1, 2] and figures[0]["x_first"] == 1.0
    assert all(f["answers"] > 0 and f["answers_per_s"] > 0 and f["p95_ms"] >= f["p50_ms"] for f in figures)


def test_bad_sizes_are_one_line_errors():
    result = CliRunner().invoke(cli, ["bench", "--sizes", "10k"])
    assert result.exit_code == 1 and "--sizes '10k'" in result.output


def test_synthetic_rows_are_distinct_unit_vectors_near_the_real_ones():
    rng = np.random.default_rng(3)
    real = rng.standard_normal((50, 384)).astype(np.float32)
    real /= np.linalg.norm(real, axis=1, keepdims=True)
    matrix = bench.synthetic(real, 1200, chunk=500)
    assert matrix.shape == (1200, 384) and np.allclose(np.linalg.norm(matrix, axis=1), 1, atol=1e-5)
    assert len(np.unique(matrix.round(4), axis=0)) == 1200
    nearest = (matrix @ real.T).max(axis=1)
    assert np.median(nearest) > 0.7 and (nearest < 0.99).all()  # near a real vector, never a copy of one
    assert np.array_equal(matrix, bench.synthetic(real, 1200, chunk=500))  # the same rows at every run


def test_generated_policies_vary_every_paragraph_of_their_sources(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "a.md").write_text("# Title\n\nWe collect data.\n\n- 1. cookies\n", encoding="utf-8")
    (seeds / "b.txt").write_text("We sell nothing.\n\nAsk us.", encoding="utf-8")
    written = bench.write_policies([seeds / "a.md", seeds / "b.txt"], tmp_path / "out", 3)
    assert [p.name for p in written] == ["synthetic-000.md", "synthetic-001.txt", "synthetic-002.md"]
    assert written[2].read_text() == "# Title\n\nBrand002 We collect data.\n\n- 1. Brand002 cookies\n"
    assert written[1].read_text() == "Brand001 We sell nothing.\n\nBrand001 Ask us."
