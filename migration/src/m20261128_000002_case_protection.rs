//! `case_protection`: a case records that a subject must be protected from
//! another person (an alleged perpetrator, a parent whose responsibility a court
//! order limits). The policy then discounts that person's consent for the
//! subject, and withholds the subject's location and contact from anyone whose
//! only link to them runs through that person's own records.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum CaseProtection {
    Table,
    Id,
    CaseId,
    ProtectedPersonId,
    FromPersonId,
    Reason,
    OrderId,
    RecordedByAgencyId,
    RecordedByOperator,
    CreatedAt,
    EndedAt,
}

fn fk(col: CaseProtection, to: &str, on_delete: ForeignKeyAction) -> ForeignKeyCreateStatement {
    let name = format!("fk_case_protection_{}", col.to_string());
    ForeignKey::create()
        .name(name)
        .from(CaseProtection::Table, col)
        .to(Alias::new(to), Alias::new("id"))
        .on_delete(on_delete)
        .to_owned()
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use CaseProtection as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(ColumnDef::new(P::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(P::CaseId).uuid().not_null())
                    .col(ColumnDef::new(P::ProtectedPersonId).uuid().not_null())
                    .col(ColumnDef::new(P::FromPersonId).uuid().not_null())
                    .col(ColumnDef::new(P::Reason).text().not_null())
                    .col(ColumnDef::new(P::OrderId).uuid().null())
                    .col(ColumnDef::new(P::RecordedByAgencyId).text().not_null())
                    .col(ColumnDef::new(P::RecordedByOperator).text().not_null())
                    .col(
                        ColumnDef::new(P::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(P::EndedAt).timestamp_with_time_zone().null())
                    .check(Check::named(
                        "ck_case_protection_distinct",
                        Expr::col(P::ProtectedPersonId).ne(Expr::col(P::FromPersonId)),
                    ))
                    .check(Check::named(
                        "ck_case_protection_reason",
                        Expr::cust("length(trim(reason)) > 0"),
                    ))
                    .foreign_key(&mut fk(P::CaseId, "case_file", ForeignKeyAction::Restrict))
                    .foreign_key(&mut fk(
                        P::ProtectedPersonId,
                        "person",
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        P::FromPersonId,
                        "person",
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        P::OrderId,
                        "court_order",
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        P::RecordedByAgencyId,
                        "agency",
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_case_protection_case_pair")
                    .table(P::Table)
                    .col(P::CaseId)
                    .col(P::ProtectedPersonId)
                    .col(P::FromPersonId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            (
                "idx_case_protection_protected_person_id",
                P::ProtectedPersonId,
            ),
            ("idx_case_protection_from_person_id", P::FromPersonId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(P::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CaseProtection::Table).to_owned())
            .await
    }
}
