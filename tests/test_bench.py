"""`policyqa bench` end to end on a small size, with the real model and the bundled corpus."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from app import bench
from app.cli import cli


def test_bench_prints_the_table_against_exact_search(engine, tmp_path):
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(cli, ["bench", "--sizes", "1000", "--incremental-files", "0", "--questions", "10",
                                      "--index", str(engine.index_dir), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "rec@10" in result.stdout and "synthetic" in result.stdout and "cold start" in result.stdout
    figures = json.loads(out.read_text())
    assert [(r["corpus"], r["kind"]) for r in figures["rows"]] == [("bundled", "flat"), ("synthetic", "flat")]
    assert figures["rows"][1]["rows"] == 1000 and figures["rows"][1]["recall_at_10"] == 1.0
    assert figures["cold_start_s"] > 0 and figures["incremental"] is None


def test_bad_sizes_are_one_line_errors():
    result = CliRunner().invoke(cli, ["bench", "--sizes", "10k"])
    assert result.exit_code == 1 and "--sizes '10k'" in result.output


def test_synthetic_rows_are_unit_vectors_near_their_seed():
    rng = np.random.default_rng(3)
    base = rng.standard_normal((5, 384)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    matrix = bench.synthetic(base, 12)
    assert matrix.shape == (12, 384) and np.allclose(np.linalg.norm(matrix, axis=1), 1, atol=1e-5)
    assert (np.sum(matrix * base[np.arange(12) % 5], axis=1) > 0.7).all()


def test_generated_policies_differ_in_every_paragraph(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "a.md").write_text("# Title\n\nWe collect data.\n\n- 1. cookies\n", encoding="utf-8")
    bench.write_policies(seeds, tmp_path / "out", 2)
    assert (tmp_path / "out" / "synthetic-001.md").read_text() == "# Title\n\nBrand001 We collect data.\n\n- 1. Brand001 cookies\n"
