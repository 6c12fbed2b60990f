"""The contract between edge, controller, worker and function: what travels between them.

- :mod:`.ids`: clip and device ids (``ClipId``, parsed once where an id enters);
- :mod:`.keys`: the S3 key layout, derived from a clip id alone;
- :mod:`.containers`: clip content types and how each container starts;
- :mod:`.states`: clip statuses (``FINAL``) and where a clip is processed (``Placement``);
- :mod:`.messages`: the queue messages and the result (pydantic models);
- :mod:`.labels`: the per-label summary of a result;
- :mod:`.client`: ``ControllerClient``, the one HTTP client of the controller's ``/v1`` API.

Wire formats here are a contract: a field renamed breaks a Pi in the field.
"""
