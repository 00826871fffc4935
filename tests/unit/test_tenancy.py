"""Which customer a ticket belongs to: shared Jira projects are told apart by field or label; a
customer on a Jira project of its own owns what is found there unless the ticket names another."""

from __future__ import annotations

import pytest

from include.itsm.config import Customer, Settings
from include.itsm.tenancy import belongs_to, check_ticket_of, has_own_project


def _settings(b_project: str, b_conn: str = "jira_default") -> Settings:
    return Settings.model_validate(
        {
            "runtime": {"evidence_per_customer": True},
            "customers": [
                Customer(id="kiwi", name="Kiwi").model_dump(),
                Customer(id="tasman", name="Tasman", jira_project=b_project, jira_conn_id=b_conn).model_dump(),
            ],
        }
    )


def test_on_a_shared_project_an_unlabelled_ticket_is_the_first_customers():
    settings = _settings("OPS")
    kiwi, tasman = settings.customers
    assert not has_own_project(settings, kiwi) and not has_own_project(settings, tasman)
    assert belongs_to(settings, kiwi, ["service:compute"]) and not belongs_to(settings, tasman, ["service:compute"])
    assert belongs_to(settings, tasman, ["customer:tasman"]) and not belongs_to(settings, kiwi, ["customer:tasman"])


def test_on_a_project_of_its_own_a_customer_owns_unlabelled_tickets_but_not_those_naming_another():
    for settings in (_settings("TPL"), _settings("OPS", b_conn="jira_tasman")):
        kiwi, tasman = settings.customers
        assert has_own_project(settings, tasman) and has_own_project(settings, kiwi)
        assert belongs_to(settings, tasman, ["service:compute"])
        assert not belongs_to(settings, tasman, ["customer:kiwi"])
        assert not belongs_to(settings, tasman, ["customer:nobody"])
        assert belongs_to(settings, tasman, ["customer:tasman"])


def test_a_ticket_of_another_project_or_labelled_for_another_customer_is_refused_by_name():
    settings = _settings("TPL")
    kiwi, tasman = settings.customers
    check_ticket_of(settings, tasman, "TPL-180", ["service:compute"])
    with pytest.raises(ValueError, match=r"TPL-180: not a ticket of customer 'kiwi'.*project OPS"):
        check_ticket_of(settings, kiwi, "TPL-180")
    with pytest.raises(ValueError, match=r"TPL-9: its labels give it to another customer than 'tasman'"):
        check_ticket_of(settings, tasman, "TPL-9", ["customer:kiwi"])
