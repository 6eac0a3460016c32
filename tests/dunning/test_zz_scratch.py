import datetime
from decimal import Decimal
from dunning.models import *
from dunning.services.cases import promise_record
from dunning.services.approvals import plan_request, approval_request
from creditops.core.dates import business_today
from tests.factories import BorrowerFactory
import pytest

@pytest.mark.parametrize("amount", ["NaN", "Infinity", "sNaN", "-0", "1e3", " 12 ", None, "0.004"])
def test_scratch(overdue_case, collector, amount):
    c1 = overdue_case(days_past_due=10)
    try:
        p = promise_record(case=c1, amount=amount, promised_for=business_today(), actor=collector)
        print("ok", p.amount)
    except Exception as e:
        print(type(e), getattr(e, "code", None), e)
    try:
        p = plan_request(case=c1, installments=[(business_today()+datetime.timedelta(days=1), amount)], reason="x", actor=collector)
        print("ok", p.total_amount)
    except Exception as e:
        print(type(e), getattr(e, "code", None), e)
    try:
        p = approval_request(case=c1, kind="write_off", amount=amount, reason="x", actor=collector)
        print("ok", p.amount)
    except Exception as e:
        print(type(e), getattr(e, "code", None), e)
    assert 0
