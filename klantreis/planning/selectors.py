from django.db.models import QuerySet

from klantreis.accounts.access import ALL_REQUESTS_ROLES
from klantreis.accounts.models import User
from klantreis.planning.models import Job


def job_list_for(*, user: User) -> QuerySet[Job]:
    """Jobs `user` may see: a subcontractor only their own firm's."""
    jobs = Job.objects.select_related("request", "request__home", "firm", "technician")
    if not user.is_authenticated or not user.is_active:
        return jobs.none()
    if user.role in ALL_REQUESTS_ROLES:
        return jobs
    if user.role == User.Role.SUBCONTRACTOR:
        return jobs.filter(firm__members=user)
    if user.role == User.Role.TECHNICIAN:
        return jobs.filter(technician__user=user)
    return jobs.none()
