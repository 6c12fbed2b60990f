"""Enrolled faces: who a face embedding belongs to, kept in a DynamoDB table (the Lambda seed's lookup).

One item per person: ``name`` (the key), ``embeddings`` (a list of 128-d
float32 vectors, stored as binary), ``info`` (a free-form JSON record, as the
seed kept a student's academic details) and ``enrolled_at``. Workers read the
whole table (it is small: one item per person) and read it again after
``REFRESH_S``, so a person enrolled while a worker runs is known within a
minute. Matching: the nearest enrolled embedding by Euclidean distance; within
``detector.face_distance`` it is that person, else ``unknown``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Optional

import numpy as np

from .aws import Aws

UNKNOWN = "unknown"
REFRESH_S = 60.0
EMBEDDING_SIZE = 128


class GalleryError(ValueError):
    """Bad input to enrolment (no face, several faces, bad name or info)."""


@dataclass
class Person:
    name: str
    embeddings: np.ndarray  # (n, 128) float32
    info: dict[str, Any] = field(default_factory=dict)
    enrolled_at: str = ""


def _to_item(person: Person) -> dict:
    return {
        "name": {"S": person.name},
        "embeddings": {"L": [{"B": np.asarray(e, np.float32).tobytes()} for e in person.embeddings]},
        "info": {"S": json.dumps(person.info, sort_keys=True)},
        "enrolled_at": {"S": person.enrolled_at},
    }


def _from_item(item: dict) -> Person:
    vectors = [np.frombuffer(v["B"], np.float32) for v in item.get("embeddings", {}).get("L", [])]
    return Person(
        name=item["name"]["S"],
        embeddings=np.stack(vectors) if vectors else np.zeros((0, EMBEDDING_SIZE), np.float32),
        info=json.loads(item.get("info", {}).get("S", "{}")),
        enrolled_at=item.get("enrolled_at", {}).get("S", ""),
    )


class FaceGallery:
    """The enrolled people of one table: ``enroll``, ``people``, ``forget`` and ``match``."""

    def __init__(self, aws: Aws, table: str, match_distance: float = 0.6, clock: Callable[[], float] = time.monotonic):
        self.aws = aws
        self.table = table
        self.match_distance = match_distance
        self.clock = clock
        self._lock = threading.Lock()
        self._cache: Optional[tuple[float, list[Person]]] = None

    def enroll(self, name: str, embeddings: np.ndarray, info: Optional[dict] = None) -> Person:
        """Store (or replace) a person's embeddings and record."""
        name = name.strip()
        if not name or name == UNKNOWN or len(name) > 200:
            raise GalleryError(f"a person's name must be 1-200 characters and not {UNKNOWN!r}, not {name!r}")
        embeddings = np.asarray(embeddings, np.float32).reshape(-1, EMBEDDING_SIZE)
        if not len(embeddings):
            raise GalleryError(f"no face embedding to enrol for {name!r}")
        if info is not None and not isinstance(info, dict):
            raise GalleryError('--info must be a JSON object, e.g. \'{"course": "CSE546"}\'')
        person = Person(name, embeddings, info or {}, datetime.now(timezone.utc).isoformat(timespec="seconds"))
        self.aws.dynamodb.put_item(TableName=self.table, Item=_to_item(person))
        self._cache = None
        return person

    def people(self) -> list[Person]:
        """Everyone enrolled, read from the table now."""
        found: list[Person] = []
        for page in self.aws.dynamodb.get_paginator("scan").paginate(TableName=self.table):
            found.extend(_from_item(item) for item in page["Items"])
        return sorted(found, key=lambda p: p.name)

    def forget(self, name: str) -> bool:
        """Remove a person; False if they were not enrolled."""
        answer = self.aws.dynamodb.delete_item(TableName=self.table, Key={"name": {"S": name}}, ReturnValues="ALL_OLD")
        self._cache = None
        return "Attributes" in answer

    def _known(self) -> list[Person]:
        with self._lock:
            now = self.clock()
            if self._cache is None or now - self._cache[0] > REFRESH_S:
                self._cache = (now, self.people())
            return self._cache[1]

    def match(self, embedding: np.ndarray) -> tuple[str, Optional[float]]:
        """(name, distance) of the nearest enrolled person; ``unknown`` beyond ``match_distance``.

        The distance is to the nearest enrolled face even when it is too far
        to count (None when nobody is enrolled)."""
        best_name, best = UNKNOWN, None
        for person in self._known():
            if not len(person.embeddings):
                continue
            distance = float(np.min(np.linalg.norm(person.embeddings - embedding, axis=1)))
            if best is None or distance < best:
                best_name, best = person.name, distance
        if best is None:
            return UNKNOWN, None
        return (best_name if best <= self.match_distance else UNKNOWN), round(best, 4)
