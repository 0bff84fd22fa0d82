//! The table contract, instantiated once per adapter. Test names carry the adapter, so the log
//! shows each one ran: `embedded::…`, `moto::…`, `dynamodb_local::…`.

mod embedded {
    shared::table_contract!(practica_tests::embedded_fixture);
}

mod moto {
    shared::table_contract!(practica_tests::moto_fixture);
}

mod dynamodb_local {
    shared::table_contract!(practica_tests::dynamodb_local_fixture);
}
