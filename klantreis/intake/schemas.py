"""The shapes of repair requests in the JSON API (see docs/api.md)."""

from datetime import datetime

from ninja import Field, Schema

from klantreis.intake.models import RepairRequest


class RequestIn(Schema):
    customer: int | None = Field(
        None,
        description="Customer id. Required for staff; a customer leaves it out or sends their own id.",
    )
    home: str = Field(
        max_length=32, description="The home's unit reference, e.g. VHE-001234.", examples=["VHE-001234"]
    )
    triage_tree: str = Field(
        max_length=50, description="Slug of the triage tree, e.g. leak.", examples=["leak"]
    )
    answers: dict[str, str] = Field(
        default_factory=dict,
        description="Triage answers: question key → answer key, up to an outcome.",
        examples=[{"flooding": "no", "where": "ceiling"}],
    )
    defect_location: str = Field(
        max_length=8,
        description="VERA DEFECTLOCATIE code (the triage outcome may override it).",
        examples=["BAD"],
    )
    description: str = Field(description="What is wrong, in the reporter's words (at most 2000 characters).")
    agent_notes: str = Field("", description="Notes of the agent taking the report (staff only).")


class RequestFilters(Schema):
    status: RepairRequest.Status | None = None
    urgency: RepairRequest.Urgency | None = None
    reported_after: datetime | None = Field(
        None, description="Reported at or after (ISO 8601; without offset: Europe/Amsterdam)."
    )
    reported_before: datetime | None = Field(
        None, description="Reported before (ISO 8601; without offset: Europe/Amsterdam)."
    )
    limit: int = Field(50, ge=1, le=100)
    offset: int = Field(0, ge=0)


class CodeOut(Schema):
    code: str
    name: str


class HomeOut(Schema):
    reference: str
    address: str
    postcode: str
    city: str


class TriageAnswerOut(Schema):
    question_key: str
    question: str
    answer_key: str
    answer: str


class RequestOut(Schema):
    reference: str
    status: RepairRequest.Status
    urgency: RepairRequest.Urgency
    urgency_reason: str
    reported_at: datetime
    channel: RepairRequest.Channel
    description: str
    defect_type: CodeOut
    defect_location: CodeOut
    specialism: CodeOut
    estimated_minutes: int
    material: list[str]
    triage_answers: list[TriageAnswerOut]
    home: HomeOut
    customer: int
    photos: int
    agent_notes: str | None = Field(None, description="Only for staff; never sent to customers.")


class RequestPageOut(Schema):
    count: int
    limit: int
    offset: int
    items: list[RequestOut]


class ErrorItem(Schema):
    field: str | None
    message: str


class ErrorOut(Schema):
    detail: list[ErrorItem]
