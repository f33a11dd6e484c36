"""The county's duty settings (履职设置, issue 18): the appraisal's defaults, the rectification report
and the public appraisal board.

- `tenant_config.appraisal_excellent` / `appraisal_pass`: the grade thresholds a new appraisal starts
  from (default 90 / 80; 1 <= pass < excellent <= 100, as an appraisal's own thresholds).
- `tenant_config.rectification_report`: whether the county asks every deputy for a rectification report
  (整改报告) after the appraisal is published (default yes), and `rectification_days`: the due day a new
  appraisal proposes, so many days after publishing (1..365, default 30).
- `tenant_config.public_board`: the public appraisal board (履职考评公开栏) on the stations' public
  pages: 'off' (default), 'grades' (the latest published appraisal) or 'points' (this year's points).
- `appraisals`: a published appraisal may have no due day (a county that asks for no report), so the
  check "published needs a due day" goes; a due day still means a report is asked for.

Revision ID: 0032
Revises: 0031
"""

from app.migrations.rls import script

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    script(
        """
        ALTER TABLE tenant_config
            ADD COLUMN appraisal_excellent smallint NOT NULL DEFAULT 90,
            ADD COLUMN appraisal_pass smallint NOT NULL DEFAULT 80,
            ADD COLUMN rectification_report boolean NOT NULL DEFAULT true,
            ADD COLUMN rectification_days smallint NOT NULL DEFAULT 30
                CHECK (rectification_days BETWEEN 1 AND 365),
            ADD COLUMN public_board varchar(6) NOT NULL DEFAULT 'off'
                CHECK (public_board IN ('off', 'grades', 'points')),
            ADD CONSTRAINT tenant_config_appraisal_thresholds
                CHECK (1 <= appraisal_pass AND appraisal_pass < appraisal_excellent AND appraisal_excellent <= 100);

        -- (status = 'draft' OR report_due IS NOT NULL), the third unnamed table check of 0031
        ALTER TABLE appraisals DROP CONSTRAINT appraisals_check2;
        """
    )


def downgrade() -> None:
    script(
        """
        -- appraisals published without a due day stay as they are
        ALTER TABLE appraisals ADD CONSTRAINT appraisals_check2
            CHECK (status = 'draft' OR report_due IS NOT NULL) NOT VALID;
        ALTER TABLE tenant_config
            DROP CONSTRAINT tenant_config_appraisal_thresholds,
            DROP COLUMN public_board,
            DROP COLUMN rectification_days,
            DROP COLUMN rectification_report,
            DROP COLUMN appraisal_pass,
            DROP COLUMN appraisal_excellent;
        """
    )
