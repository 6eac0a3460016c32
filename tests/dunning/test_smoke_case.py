from dunning.models import CaseStatus, DunningAction


def test_a_loan_ten_days_late_gets_a_case_at_the_d7_stage_assigned_to_a_collector(overdue_case, collector):
    case = overdue_case(days_past_due=10)
    assert case.status == CaseStatus.OPEN
    assert case.days_past_due == 10
    assert case.stage.start_dpd == 7
    assert case.assigned_to == collector
    actions = dict(DunningAction.objects.filter(case=case).values_list("kind", "status"))
    assert actions == {"collector_call": "pending"}  # D+1 and D+3 were jumped over: skipped, not fired
    [transition] = case.transitions.all()
    assert [entry["start_dpd"] for entry in transition.skipped_stages] == [1, 3]
