create schema if not exists results_staging;
