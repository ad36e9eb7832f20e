from portal.qa import access


def qa_navigation(request):
    """Which QA pages the header links to (portal.qa.access): who scores, who runs it."""
    membership = getattr(request, "membership", None)
    return {
        "qa_nav": {
            "scores": access.is_qa_reviewer(membership) or access.is_qa_lead(membership),
            "leads": access.is_qa_lead(membership),
        }
    }
