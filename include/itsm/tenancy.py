"""Several customers (tenants) on one platform: which customer a ticket belongs to.

A managed-service provider runs one Airflow for many customers. Each customer has its own
connections, AWS organisation facts, Jira mapping, scrub registers and evidence root
(`<evidence_root>/<customer id>/` when `runtime.evidence_per_customer` is on). A ticket is
mapped to a customer by, in order:

1. the Jira field named by `runtime.customer_field` (e.g. `customfield_10050`) holding the
   customer id; the sweep narrows its JQL with `cf[10050] = "<id>"` on real Jira;
2. a label `<runtime.customer_label_prefix><id>` (default prefix `customer:`);
3. neither: the first customer in the configuration (the default tenant).

That order decides between customers who share one Jira project. A customer whose Jira project
(connection and project key) is its own owns every ticket found there, unless the field or a label
names another customer. A label naming a customer that is not configured maps to no one: the ticket
is skipped, never assigned to the default tenant by accident.
"""

from __future__ import annotations

from collections.abc import Iterable

from include.itsm.config import Customer, Settings


def customer_id_of(settings: Settings, labels: Iterable[str], field_value: str | None = None) -> str | None:
    """The id of the customer a ticket belongs to, or None when it names an unknown customer."""
    known = {c.id for c in settings.customers}
    if settings.runtime.customer_field and field_value:
        return field_value if field_value in known else None
    prefix = settings.runtime.customer_label_prefix
    named = [label[len(prefix) :] for label in labels if prefix and label.startswith(prefix)]
    if named:
        return named[0] if named[0] in known and len(set(named)) == 1 else None
    return settings.customers[0].id


def has_own_project(settings: Settings, customer: Customer) -> bool:
    """No other customer reads the same Jira project through the same connection."""
    where = (customer.jira_conn_id, customer.jira_project)
    return all((c.jira_conn_id, c.jira_project) != where for c in settings.customers if c.id != customer.id)


def belongs_to(settings: Settings, customer: Customer, labels: Iterable[str], field_value: str | None = None) -> bool:
    owner = customer_id_of(settings, labels, field_value)
    if owner == customer.id:
        return True
    prefix = settings.runtime.customer_label_prefix
    names_one = bool(settings.runtime.customer_field and field_value) or any(
        prefix and label.startswith(prefix) for label in labels
    )
    return has_own_project(settings, customer) and not names_one


def check_ticket_of(settings: Settings, customer: Customer, key: str, labels: Iterable[str] | None = None) -> None:
    """Refuse a ticket that is not `customer`'s: from another Jira project, or (when its labels are known)
    labelled for another customer. The error names the ticket and the customer."""
    project = key.rpartition("-")[0]
    if project != customer.jira_project:
        raise ValueError(
            f"{key}: not a ticket of customer {customer.id!r}, whose tickets are in Jira project {customer.jira_project}"
        )
    if labels is not None and not settings.runtime.customer_field and not belongs_to(settings, customer, labels):
        raise ValueError(f"{key}: its labels give it to another customer than {customer.id!r}")


def customer_jql(settings: Settings, customer: Customer) -> str | None:
    """JQL narrowing a search to the customer's tickets when the mapping is a Jira field (else None:
    labels are filtered on the tickets read, which works on every Jira)."""
    field = settings.runtime.customer_field
    if not field:
        return None
    clause = "cf[" + field.removeprefix("customfield_") + "]"
    if customer.id == settings.customers[0].id:
        return f'{clause} = "{customer.id}" OR {clause} is EMPTY'
    return f'{clause} = "{customer.id}"'


def customer_label(settings: Settings, customer: Customer) -> str:
    return f"{settings.runtime.customer_label_prefix}{customer.id}"


def dag_ids_per_customer(settings: Settings, base: str) -> list[tuple[str, str]]:
    """(dag id, customer id) of a per-customer DAG family: `base` with one customer, `base__<id>` each
    with several (the sweep and the pattern bridge)."""
    if len(settings.customers) == 1:
        return [(base, settings.customers[0].id)]
    return [(f"{base}__{customer.id}", customer.id) for customer in settings.customers]


def dag_id_for(settings: Settings, base: str, customer_id: str | None) -> str:
    """The DAG id of `base`'s family that works for `customer_id` (None: the first customer)."""
    wanted = settings.customer(customer_id).id
    return next(dag_id for dag_id, customer in dag_ids_per_customer(settings, base) if customer == wanted)
