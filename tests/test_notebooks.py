"""The notebooks run top to bottom against a test database and are stored without outputs.

Each notebook reads ``DATABASE_URL`` (as every CityGrid entry point does), so the kernel
gets the URL of a throwaway database loaded with a small synthetic district.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.db.session import make_engine
from gis.demo import generate_district
from tests.conftest import create_database, drop_database

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
nbformat = pytest.importorskip("nbformat")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code), path.name


@pytest.fixture(scope="module")
def notebook_db(server_url, template_db):
    from bench.bench_hotspots import load_district

    name = f"citygrid_notebooks_{os.getpid()}"
    url = create_database(server_url, name, template=template_db)
    engine = make_engine(url)
    load_district(
        engine,
        generate_district(n_grids=400, seed=5, events_per_grid=30.0),
        components=False,
        open_share=0.05,
    )
    engine.dispose()
    yield url
    drop_database(server_url, name)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, notebook_db: str, monkeypatch) -> None:
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # The kernel inherits this process's environment.
    monkeypatch.setenv("DATABASE_URL", notebook_db)
    book = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(
        book, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()
    errors = [
        o
        for c in book.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert not errors
    assert any(
        o.get("data", {}).get("text/html")
        for c in book.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
