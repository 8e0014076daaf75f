"""The statistics pages: an enterprise's in the management area (/manage/stats/), the platform's in /admin;
each as charts and tables, or as CSV (`?format=csv`)."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from enterprises.manage import manage_site
from enterprises.models import Enterprise

from .selectors import RANGE_MAX_DAYS, report, zone_of

DEFAULT_DAYS = 7
_CSV_COLUMNS = [
    "visitors_new",
    "visitors_returning",
    "conversations_opened",
    "conversations_closed",
    "left_message",
    "abandoned_in_queue",
    "messages_visitor",
    "messages_agent",
]
_CSV_TIMES = ["first_response", "resolution", "queue_wait"]


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def range_of(request: HttpRequest, enterprise: Enterprise | None) -> tuple[date, date, str]:
    """The days asked for (`start`, `end`, both included; default the last 7 days to today in the
    enterprise's time zone), and why they were not taken as asked ("" when they were)."""
    today = datetime.now(zone_of(enterprise)).date()
    start, end = _day(request.GET.get("start")), _day(request.GET.get("end"))
    problem = ""
    if (request.GET.get("start") and start is None) or (request.GET.get("end") and end is None):
        problem = _("Dates are written YYYY-MM-DD.")
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        start, end, problem = end, start, _("The range began after it ended: it was turned round.")
    if (end - start).days + 1 > RANGE_MAX_DAYS:
        start = end - timedelta(days=RANGE_MAX_DAYS - 1)
        problem = _("At most %(days)d days at once: the range was shortened.") % {"days": RANGE_MAX_DAYS}
    return start, end, problem


def _cell(value: Any) -> Any:
    # A name that a spreadsheet would run as a formula (=, +, -, @) is written as text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv(data: dict[str, Any], filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")  # Excel opens UTF-8 (Chinese names) only with the BOM
    writer = csv.writer(response)
    times = [f"{name}_{which}_s" for name in _CSV_TIMES for which in ("median", "p90")]
    writer.writerow(["scope", "key", "name", *_CSV_COLUMNS, *times])

    def line(scope: str, key: Any, name: str, row: dict[str, Any]) -> None:
        values = [row[column] for column in _CSV_COLUMNS]
        values += [row[name_][which] for name_ in _CSV_TIMES for which in ("median", "p90")]
        writer.writerow([scope, key, _cell(name), *values])

    line("total", "", "", data["total"])
    for row in data["days"]:
        line("day", row["day"], "", row)
    for row in data["agents"]:
        line("agent", row["agent_id"], row["name"], row)
    for row in data.get("enterprises", []):
        line("enterprise", row["enterprise_id"], row["name"], row)
    return response


def stats_page(request: HttpRequest, *, enterprise: Enterprise | None, site: AdminSite) -> HttpResponse:
    start, end, problem = range_of(request, enterprise)
    data = report(enterprise=enterprise, start=start, end=end)
    if request.GET.get("format") == "csv":
        who = f"enterprise-{enterprise.pk}" if enterprise is not None else "platform"
        return _csv(data, f"gofly-stats-{who}-{start}-{end}.csv")
    context = {
        **site.each_context(request),
        "title": _("Statistics"),
        "report": data,
        "problem": problem,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "platform": enterprise is None,
    }
    request.current_app = site.name
    return TemplateResponse(request, "stats/report.html", context)


def enterprise_stats(request: HttpRequest) -> HttpResponse:
    """The management area's page: the user's enterprise."""
    enterprise = Enterprise.objects.get(pk=getattr(request.user, "enterprise_id", 0) or 0)
    return stats_page(request, enterprise=enterprise, site=manage_site)
