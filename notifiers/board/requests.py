"""What the board's API takes, and how it answers who you are and why it refused."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class AckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field("", max_length=500, description="what is being done")


class SilenceRequest(BaseModel):
    """A silence from now on: for ``duration`` (e.g. ``2h``) or until ``ends_at``."""

    model_config = ConfigDict(extra="forbid")

    matchers: dict[str, str] = Field(min_length=1, description="label → value or pattern (air.*)")
    duration: str | None = Field(None, description="e.g. 30m, 2h, 1d")
    ends_at: AwareDatetime | None = None
    comment: str = Field(min_length=1, max_length=500, description="why")


class Me(BaseModel):
    name: str | None
    can_write: bool
    read_auth: bool


class Ticket(BaseModel):
    """A single-use ticket for ``GET /api/events?ticket=…``."""

    ticket: str
    expires_in: float = Field(description="seconds it is good for")


class Problem(BaseModel):
    """Every refusal: what is wrong, and where (a field path) when it is one field."""

    error: str
    field: str | None = None
