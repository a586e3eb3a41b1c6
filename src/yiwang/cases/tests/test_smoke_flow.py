from yiwang.cases.services import case_act, case_create
from yiwang.testing import SENIOR_OK


def test_an_application_runs_from_submission_to_close(world):
    wang = world.viewer("resident_wang")
    created = case_create(viewer=wang, matter_code="SENIOR_CARD", **SENIOR_OK)
    case = created.case
    assert case.holder_unit_id == world.units["xfl_sh"].id
    clerk = world.viewer("clerk_xfl")
    handler = world.viewer("handler_xfl")
    case = case_act(viewer=clerk, case_id=case.pk, action="accept", version=case.version)
    case = case_act(viewer=handler, case_id=case.pk, action="decide", version=case.version, decision="approved")
    case = case_act(viewer=handler, case_id=case.pk, action="close", version=case.version,
                    delivery={"method": "post", "tracking": "SF1234567890"})
    assert case.state == "closed"
    assert case.event_count == 4
