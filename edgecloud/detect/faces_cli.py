"""``edgecloud faces enroll|list|forget``: the people the ``faces`` detector can name.

Each image given to ``enroll`` adds one embedding: its best-scoring face
(others in the same image are reported and ignored). ``--info`` stores a
free-form JSON record with the person, as the seed kept a student's details.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import cv2

from ..aws import Aws
from ..gallery import FaceGallery, GalleryError


def gallery_of(obj) -> FaceGallery:
    settings = obj.settings
    return FaceGallery(Aws(settings.aws), settings.tables.faces, settings.detector.face_distance)


def embeddings_of(paths, min_score: float, upsample: int, echo=click.echo):
    """The best face's embedding in each image; ClickException for an unreadable image or one without a face."""
    from .faces import find_faces

    vectors = []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise click.ClickException(f"{path}: not an image OpenCV can read")
        faces = sorted(find_faces(image, upsample, min_score), key=lambda f: -f.score)
        if not faces:
            raise click.ClickException(f"{path}: no face found (score >= {min_score}); use a clearer, frontal photo")
        best = faces[0]
        extra = f"; {len(faces) - 1} weaker face(s) ignored" if len(faces) > 1 else ""
        echo(f"{path}: face at {tuple(round(v) for v in best.box)} score {best.score:.2f}{extra}")
        vectors.append(best.embedding)
    return vectors


@click.group("faces")
def faces():
    """Enrol, list and forget the people the faces detector names (DynamoDB table tables.faces)."""


@faces.command("enroll")
@click.argument("name")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--info", "info_json", help='A JSON object stored with the person, e.g. \'{"course": "CSE546"}\'.')
@click.pass_obj
def enroll(obj, name, images, info_json):
    """Enrol NAME from one face in each IMAGE (replaces an earlier enrolment of NAME)."""
    try:
        info = json.loads(info_json) if info_json else None
    except json.JSONDecodeError as err:
        raise click.ClickException(f"--info is not valid JSON: {err}") from None
    settings = obj.settings
    vectors = embeddings_of(images, settings.detector.min_score, settings.detector.face_upsample)
    try:
        person = gallery_of(obj).enroll(name, vectors, info)
    except GalleryError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"enrolled {person.name}: {len(person.embeddings)} face(s) in table {settings.tables.faces}")


@faces.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_people(obj, as_json):
    """Everyone enrolled, with their record."""
    people = gallery_of(obj).people()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {"name": p.name, "faces": len(p.embeddings), "info": p.info, "enrolled_at": p.enrolled_at}
                    for p in people
                ],
                indent=2,
            )
        )
        return
    if not people:
        click.echo(f"nobody enrolled in table {obj.settings.tables.faces}")
    for p in people:
        click.echo(f"{p.name}\t{len(p.embeddings)} face(s)\t{p.enrolled_at}\t{json.dumps(p.info, sort_keys=True)}")


@faces.command("forget")
@click.argument("name")
@click.pass_obj
def forget(obj, name):
    """Remove NAME and their faces."""
    if not gallery_of(obj).forget(name):
        raise click.ClickException(f"{name!r} is not enrolled")
    click.echo(f"forgot {name}")
