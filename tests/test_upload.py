"""Uploads (dq.auto.upload): the CLI's checks on the bytes before anything is kept, the size limit,
names that cannot leave the uploads folder, and the role check before dq auto runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from dq.auto.pipeline import AutoSettings
from dq.auto.upload import UPLOAD_DIR, build_upload, preview, safe_name, save_upload
from dq.errors import AccessDenied, InputFileError, ValidationError
from dq.team import Users

GOOD = "text,label\n" + "".join(f"great phone {i},pos\nawful phone {i},neg\n" for i in range(20))


def test_a_good_file_is_kept_once_with_its_columns(tmp_path: Path) -> None:
    path, columns = save_upload(GOOD.encode(), "reviews.csv", home=tmp_path)
    assert columns == ["text", "label"] and path.parent == tmp_path / UPLOAD_DIR and path.name.endswith("-reviews.csv")
    assert path.read_text() == GOOD
    again, _ = save_upload(GOOD.encode(), "reviews.csv", home=tmp_path)
    assert again == path and len(list(path.parent.iterdir())) == 1  # the same bytes: the same file
    assert preview(path, rows=2)["text"].tolist() == ["great phone 0", "awful phone 0"]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"a,b\n1,2\n", "data.xlsx", "data.xlsx has extension '.xlsx'; supported extensions are: .csv"),
        (b"", "empty.csv", "empty.csv is empty (0 bytes)"),
        (b"text,label\n\xff\xfe bad,pos\n", "latin.csv", "latin.csv"),
        (b'{"text": "a", "label": "x"}\nnot json\n', "rows.jsonl", "rows.jsonl"),
        (b"PAR1 not really", "cut.parquet", "cut.parquet"),
    ],
)
def test_a_bad_file_is_one_line_naming_it_and_nothing_is_kept(tmp_path: Path, data, name, message) -> None:
    with pytest.raises(InputFileError) as err:
        save_upload(data, name, home=tmp_path)
    assert message in str(err.value) and "\n" not in str(err.value) and str(tmp_path) not in str(err.value)
    assert not (tmp_path / UPLOAD_DIR).exists() or not list((tmp_path / UPLOAD_DIR).iterdir())


def test_the_size_limit_and_names_that_try_to_leave_the_folder(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="big.csv is 0.0 MB; this console takes files up to 0 MB"):
        save_upload(GOOD.encode(), "big.csv", home=tmp_path, max_bytes=10)
    assert safe_name("../../etc/passwd.csv") == "passwd.csv" and safe_name("..\\..\\x.csv") == "x.csv"
    path, _ = save_upload(GOOD.encode(), "../../outside.csv", home=tmp_path)
    assert path.parent == tmp_path / UPLOAD_DIR


def test_building_needs_the_editor_role_in_a_teams_home(tmp_path: Path) -> None:
    path, _ = save_upload(GOOD.encode(), "reviews.csv", home=tmp_path)
    settings = AutoSettings(text="text", label="label", folds=2, epochs=1)
    users = Users(tmp_path / "users.db")
    users.add("vi@example.com", "viewer")
    with pytest.raises(AccessDenied, match="vi@example.com is a viewer of project 'shop'"):
        build_upload(path, settings, project="shop", run="r1", author="vi@example.com", home=tmp_path)
    with pytest.raises(ValidationError, match="The 'project' parameter must be a non-empty name"):
        build_upload(path, settings, project="../x", run="r1", author="vi@example.com", home=tmp_path)
    assert not (tmp_path / "runs").exists()  # refused before any work
    users.add("ed@example.com", "editor", project="shop")
    result = build_upload(path, settings, project="shop", run="r1", author="ed@example.com", home=tmp_path, log=print)
    assert result.path == tmp_path / "runs" / "shop" / "r1" and (result.path / "run.json").exists()
