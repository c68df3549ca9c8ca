"""The JSON API (/api/v1/): one NinjaAPI, its routers, and one error format.

Every error answers `{"detail": [{"field": <name or null>, "message": <text>}]}`
with the message in the caller's language (docs/api.md).
"""

from typing import Any

from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.renderers import JSONRenderer
from ninja.types import DictStrAny

from klantreis.core.errors import ApplicationError
from klantreis.intake.api import router as intake_router

MESSAGE_UNAUTHORIZED = _("Please send a valid API token: 'Authorization: Bearer <key>'.")
MESSAGE_FORBIDDEN = _("Your role may not do this.")
MESSAGE_NOT_FOUND = _("Not found.")
MESSAGE_TOO_LARGE = _("The request is too large.")
MESSAGE_NOT_JSON = _("Please send the request as JSON (Content-Type: application/json).")
MESSAGE_BAD_JSON = _("The request body is not valid JSON.")
MESSAGE_BAD_UPLOAD = _("The upload could not be read; please send it as multipart/form-data.")
MESSAGE_TOO_MANY_REQUESTS = _("Too many requests; please wait a moment.")

# Pydantic's messages are English only; the common ones get ours.
VALIDATION_MESSAGES: dict[str, Promise] = {
    "missing": _("This field is required."),
    "string_type": _("Please send text here."),
    "string_too_long": _("This text is too long."),
    "int_type": _("Please send a whole number here."),
    "int_parsing": _("Please send a whole number here."),
    "dict_type": _("Please send an object here."),
    "model_attributes_type": _("Please send a JSON object."),
    "model_type": _("Please send a JSON object."),
    "enum": _("Please choose one of the allowed values."),
    "literal_error": _("Please choose one of the allowed values."),
    "datetime_parsing": _("Please send a date and time (ISO 8601)."),
    "datetime_from_date_parsing": _("Please send a date and time (ISO 8601)."),
    "datetime_type": _("Please send a date and time (ISO 8601)."),
    "greater_than_equal": _("This number is too small."),
    "less_than_equal": _("This number is too large."),
}
# The locations ninja reports before the field name: the source, then the
# name of the view argument that holds the whole schema.
PARAMETER_SOURCES = {"body", "query", "path", "file", "form", "header", "cookie"}
SCHEMA_ARGUMENTS = {"payload", "filters"}


class NotJson(Exception):
    pass


class JsonParser(Parser):
    """Only `application/json` bodies (form posts would otherwise be read as JSON)."""

    def parse_body(self, request: HttpRequest) -> DictStrAny:
        # Ninja also parses single multipart fields through a bare HttpRequest
        # without a content type; those stay JSON.
        content_type = getattr(request, "content_type", None)
        if content_type and content_type != "application/json":
            raise NotJson(content_type)
        return super().parse_body(request)


class EscapingJSONRenderer(JSONRenderer):
    """JSON with <, > and & escaped, as Django's json_script does: a hostile
    text echoed back stays inert even if a client pastes the JSON into HTML."""

    def render(self, request: HttpRequest, data: Any, *, response_status: int) -> Any:
        rendered: str = super().render(request, data, response_status=response_status)
        return rendered.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


api = NinjaAPI(
    title="klantreis API",
    version="1",
    description=(
        "Repair requests as JSON. Authenticate with `Authorization: Bearer <token>` "
        "(`manage.py create_api_token <username> <name>`). See docs/api.md."
    ),
    urls_namespace="api",
    parser=JsonParser(),
    renderer=EscapingJSONRenderer(),
    # Served from ninja's own static files; the validator badge would call swagger.io.
    docs=Swagger(settings={"validatorUrl": None}),
)
api.add_router("/", intake_router)


def error_response(
    request: HttpRequest, status: int, message: object, *, field: str | None = None
) -> HttpResponse:
    return api.create_response(
        request, {"detail": [{"field": field, "message": str(message)}]}, status=status
    )


def _field(location: list[Any] | tuple[Any, ...]) -> str | None:
    parts = [str(part) for part in location]
    if parts and parts[0] in PARAMETER_SOURCES:
        parts = parts[1:]
    if len(parts) > 1 and parts[0] in SCHEMA_ARGUMENTS:
        parts = parts[1:]
    return ".".join(parts) or None


@api.exception_handler(ApplicationError)
def on_application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return error_response(request, 422, exc.message, field=exc.field)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    detail = [
        {
            "field": _field(error.get("loc", ())),
            "message": str(VALIDATION_MESSAGES.get(error.get("type", ""), error.get("msg", ""))),
        }
        for error in exc.errors
    ]
    return api.create_response(request, {"detail": detail}, status=422)


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # Ninja turns any failure to read the body into a 400; the cause tells which.
    cause = exc.__cause__
    if isinstance(cause, RequestDataTooBig):
        return error_response(request, 413, MESSAGE_TOO_LARGE)
    if isinstance(cause, NotJson):
        return error_response(request, 415, MESSAGE_NOT_JSON)
    if isinstance(cause, ValueError):
        return error_response(request, 400, MESSAGE_BAD_JSON)
    if isinstance(exc, AuthenticationError):
        response = error_response(request, 401, MESSAGE_UNAUTHORIZED)
        response["WWW-Authenticate"] = 'Bearer realm="klantreis"'
        return response
    messages = {403: MESSAGE_FORBIDDEN, 404: MESSAGE_NOT_FOUND, 429: MESSAGE_TOO_MANY_REQUESTS}
    return error_response(request, exc.status_code, messages.get(exc.status_code, exc.message))


@api.exception_handler(PermissionDenied)
def on_permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return error_response(request, 403, MESSAGE_FORBIDDEN)


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, MESSAGE_NOT_FOUND)


@api.exception_handler(RequestDataTooBig)
def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return error_response(request, 413, MESSAGE_TOO_LARGE)


@api.exception_handler(TooManyFieldsSent)
@api.exception_handler(TooManyFilesSent)
@api.exception_handler(MultiPartParserError)
def on_bad_upload(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(request, 400, MESSAGE_BAD_UPLOAD)
