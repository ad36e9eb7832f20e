from django.apps import AppConfig


class Hl7Config(AppConfig):
    name = "integrations.hl7"
    label = "hl7"
    verbose_name = "EHR results by HL7 v2 (MLLP)"

    def ready(self):
        from integrations.hl7 import results
        from portal.outbound import kinds

        kinds.register(
            kinds.Kind(
                key="hl7",
                label="HL7 v2 results (MLLP)",
                carries=kinds.REPORT,
                send=results.send,
                test=results.test,
                describe=results.describe,
                options=(
                    kinds.Option(
                        "host",
                        "Host",
                        required=True,
                        help="The interface engine's host name or address.",
                    ),
                    kinds.Option(
                        "port",
                        "Port",
                        type="int",
                        default=results.DEFAULT_PORT,
                        help="The MLLP port the EHR's interface team gave (2575 by convention).",
                    ),
                    kinds.Option(
                        "receiving_app",
                        "Receiving application",
                        max_length=20,
                        help="MSH-5, as the EHR's interface expects it.",
                    ),
                    kinds.Option(
                        "receiving_facility",
                        "Receiving facility",
                        max_length=20,
                        help="MSH-6, as the EHR's interface expects it.",
                    ),
                    kinds.Option(
                        "sending_app",
                        "Sending application",
                        default="CLARIUSPORTAL",
                        max_length=20,
                        help="MSH-3: how the EHR knows the portal.",
                    ),
                    kinds.Option(
                        "sending_facility",
                        "Sending facility",
                        max_length=20,
                        help="MSH-4; the institution's name (its first 20 characters) when empty.",
                    ),
                    kinds.Option(
                        "tls",
                        "TLS",
                        type="bool",
                        default=False,
                        help="Encrypt the connection (the receiver's certificate is checked).",
                    ),
                    kinds.Option(
                        "include_pdf",
                        "Include the PDF",
                        type="bool",
                        default=True,
                        help="Add the report PDF to each result as an encapsulated (ED) "
                        "observation; some EHRs take text only.",
                    ),
                ),
                help="Sends each report version to an EHR as an HL7 v2.5.1 ORU^R01 result "
                "over MLLP; the test is a round trip with a test message.",
                help_template="hl7/destination_help.html",
            )
        )
